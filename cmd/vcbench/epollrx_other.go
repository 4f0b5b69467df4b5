//go:build !linux

package main

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// rxAvailable reports whether this platform has rxSet (Linux only).
const rxAvailable = false

type rxSet struct{}

type rxSocket struct {
	idx int
	err error
}

type rxFrame struct {
	sock             *rxSocket
	payload          []byte
	readAt, kernelAt time.Time
}

func newRxSet(int) (*rxSet, error) { return nil, errors.New("epoll receivers need Linux") }

func (s *rxSet) dial(netip.AddrPort, string, string, int) (*rxSocket, error) {
	return nil, errors.New("epoll receivers need Linux")
}

func (s *rxSet) run(context.Context, func(rxFrame)) {}

func (s *rxSet) close() {}

func resolveAddr(string) (netip.AddrPort, error) {
	return netip.AddrPort{}, errors.New("epoll receivers need Linux")
}
