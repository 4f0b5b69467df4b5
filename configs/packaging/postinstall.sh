#!/bin/sh
# deb/rpm post-install: the vc system user and its data directory.
set -e
if ! getent group vc >/dev/null 2>&1; then
	groupadd --system vc
fi
if ! getent passwd vc >/dev/null 2>&1; then
	useradd --system --gid vc --home-dir /var/lib/vc --no-create-home --shell /usr/sbin/nologin vc
fi
mkdir -p /var/lib/vc
chown vc:vc /var/lib/vc
chmod 0700 /var/lib/vc
if command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
