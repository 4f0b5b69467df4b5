// Package ops holds vcd's operator tools that work on the database
// directly, with or without a daemon running: backup and restore, room
// exports, and the data-directory lock that tells them whether a daemon is
// running. cmd/vcd only parses flags and calls these.
package ops
