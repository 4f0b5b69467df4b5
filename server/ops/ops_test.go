package ops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/virtual-company/vc/pkg/api"
	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/ops"
	"github.com/virtual-company/vc/server/servertest"
	"github.com/virtual-company/vc/server/store"
)

func createRoom(t *testing.T, d *servertest.Daemon, token, name string) api.Room {
	t.Helper()
	status, b := d.Do("POST", "/api/rooms", token, api.CreateRoomRequest{Name: name})
	require.Equal(t, http.StatusCreated, status, string(b))
	var r api.Room
	require.NoError(t, json.Unmarshal(b, &r))
	return r
}

// history reads every message of the room from the daemon's store, oldest
// first (the HTTP history answers the newest page when after is 0).
func history(t *testing.T, d *servertest.Daemon, roomID int64) []store.Message {
	t.Helper()
	var all []store.Message
	var after int64
	for {
		page, err := d.Server().Store().Messages(context.Background(), roomID, store.MessageQuery{After: after, Limit: 100})
		require.NoError(t, err)
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
		after = page[len(page)-1].Seq
	}
}

// TestBackup_UnderWriteLoadRestores backs a running daemon up while four
// writers keep posting, restores the copy into a fresh data directory, and
// starts a daemon on it: every message acknowledged before the backup
// started must be there, with its content.
func TestBackup_UnderWriteLoadRestores(t *testing.T) {
	d := servertest.Start(t)
	ada := d.Register("ada")
	room := createRoom(t, d, ada.Token, "general")

	type ack struct {
		seq     int64
		content string
	}
	var mu sync.Mutex
	var acked []ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	hc := &http.Client{Timeout: 30 * time.Second}
	writerErr := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				content := fmt.Sprintf("writer %d message %d", w, i)
				body, _ := json.Marshal(api.CreateMessageRequest{Content: content})
				req, _ := http.NewRequest("POST", fmt.Sprintf("%s/api/rooms/%d/messages", d.URL, room.ID), bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+ada.Token)
				req.Header.Set("Content-Type", "application/json")
				resp, err := hc.Do(req)
				if err != nil {
					writerErr <- err
					return
				}
				var m api.Message
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || err != nil {
					writerErr <- fmt.Errorf("post: status %d, %v", resp.StatusCode, err)
					return
				}
				mu.Lock()
				acked = append(acked, ack{m.Seq, content})
				mu.Unlock()
			}
		}()
	}
	// Let the load build up, then take the backup while it goes on.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 200 {
			break
		}
		require.True(t, time.Now().Before(deadline), "writers stalled at %d messages", n)
		select {
		case err := <-writerErr:
			t.Fatal(err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	mu.Lock()
	before := append([]ack(nil), acked...)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "backup.db")
	var out bytes.Buffer
	require.NoError(t, ops.Backup(context.Background(), d.Config, file, &out))
	require.Contains(t, out.String(), "backed up")
	mu.Lock()
	during := len(acked) - len(before)
	mu.Unlock()
	close(stop)
	wg.Wait()
	select {
	case err := <-writerErr:
		t.Fatal(err)
	default:
	}
	t.Logf("%d messages acknowledged before the backup, %d while it ran", len(before), during)

	// The running daemon holds its data directory: restoring into it is refused.
	err := ops.Restore(context.Background(), d.Config, file, &out)
	require.ErrorIs(t, err, ops.ErrLocked)

	fresh := config.Defaults()
	fresh.DataDir = t.TempDir()
	fresh.DatabaseURL = ""
	out.Reset()
	require.NoError(t, ops.Restore(context.Background(), fresh, file, &out))
	require.Contains(t, out.String(), "restored")

	d2 := servertest.Start(t, servertest.WithConfig(func(c *config.Config) { c.DataDir = fresh.DataDir }))
	// The daemon on the restored database knows the account.
	_, err = d2.Login("ada", ada.Password)
	require.NoError(t, err)
	got := map[int64]string{}
	for _, m := range history(t, d2, room.ID) {
		got[m.Seq] = m.Content
	}
	for _, a := range before {
		require.Equal(t, a.content, got[a.seq], "message seq %d acknowledged before the backup is missing", a.seq)
	}
}

func TestRestore_ChecksTheFile(t *testing.T) {
	d := servertest.Start(t)
	d.Register("ada")
	file := filepath.Join(t.TempDir(), "backup.db")
	require.NoError(t, ops.Backup(context.Background(), d.Config, file, new(bytes.Buffer)))
	// A second backup to the same file is refused rather than overwritten.
	require.ErrorContains(t, ops.Backup(context.Background(), d.Config, file, new(bytes.Buffer)), "already exists")

	target := func() config.Config {
		c := config.Defaults()
		c.DataDir = t.TempDir()
		c.DatabaseURL = ""
		return c
	}

	garbage := filepath.Join(t.TempDir(), "garbage.db")
	require.NoError(t, os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 500), 0o600))
	err := ops.Restore(context.Background(), target(), garbage, new(bytes.Buffer))
	require.Error(t, err)
	require.Contains(t, err.Error(), "not a readable SQLite database")

	missing := filepath.Join(t.TempDir(), "nope.db")
	require.Error(t, ops.Restore(context.Background(), target(), missing, new(bytes.Buffer)))

	// A backup from a newer vcd: one more migration than this binary knows.
	newer := filepath.Join(t.TempDir(), "newer.db")
	d.Stop()
	data, err := os.ReadFile(file)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(newer, data, 0o600))
	c := target()
	c.DatabaseURL = newer
	d3 := servertest.Start(t, servertest.WithConfig(func(cfg *config.Config) { cfg.DatabaseURL = newer }))
	require.NoError(t, d3.Server().Store().DB().Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', ?)", time.Now().UTC()).Error)
	d3.Stop()
	dst := target()
	err = ops.Restore(context.Background(), dst, newer, new(bytes.Buffer))
	require.ErrorIs(t, err, ops.ErrNewerSchema)
	require.Contains(t, err.Error(), "999")
	require.NoFileExists(t, filepath.Join(dst.DataDir, "vcd.db"))
}

func TestBackup_PostgresPrintsPgDump(t *testing.T) {
	cfg := config.Defaults()
	cfg.DatabaseURL = "postgres://vc:s3cret-pw@db.example:5432/vc?sslmode=require"
	var out bytes.Buffer
	err := ops.Backup(context.Background(), cfg, "/backups/vc.dump", &out)
	require.ErrorIs(t, err, ops.ErrPostgres)
	require.Contains(t, out.String(), "pg_dump --format=custom --file=/backups/vc.dump 'postgres://vc@db.example:5432/vc?sslmode=require'")
	require.NotContains(t, out.String(), "s3cret")
	require.NotContains(t, err.Error(), "s3cret")

	out.Reset()
	err = ops.Restore(context.Background(), cfg, "/backups/vc.dump", &out)
	require.ErrorIs(t, err, ops.ErrPostgres)
	require.Contains(t, out.String(), "pg_restore")
	require.NotContains(t, out.String(), "s3cret")
}

func TestExport_Formats(t *testing.T) {
	d := servertest.Start(t)
	ada := d.Register("ada")
	room := createRoom(t, d, ada.Token, "general")
	for _, c := range []string{"hello", "second\nline"} {
		status, b := d.Do("POST", fmt.Sprintf("/api/rooms/%d/messages", room.ID), ada.Token, api.CreateMessageRequest{Content: c})
		require.Equal(t, http.StatusCreated, status, string(b))
	}
	ex := &ops.Exporter{Store: d.Server().Store()}
	var out bytes.Buffer
	require.NoError(t, ex.Export(context.Background(), room.ID, ops.FormatJSONL, &out))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	require.Len(t, lines, 2)
	var m api.ExportedMessage
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &m))
	require.Equal(t, "second\nline", m.Content)
	require.Equal(t, int64(2), m.Seq)
	require.Equal(t, "ada", m.User)

	out.Reset()
	require.NoError(t, ex.Export(context.Background(), room.ID, ops.FormatMarkdown, &out))
	require.Contains(t, out.String(), "# general")
	require.Contains(t, out.String(), "### ada · ")
	require.Contains(t, out.String(), "second\nline")

	require.Error(t, ex.Export(context.Background(), room.ID, "csv", &out))
	require.Error(t, ex.Export(context.Background(), room.ID+100, ops.FormatJSONL, &out))
}
