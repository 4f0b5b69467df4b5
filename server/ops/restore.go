package ops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/virtual-company/vc/server/config"
	"github.com/virtual-company/vc/server/store/gormstore"
)

// Restore replaces the configured SQLite database with the backup at src.
// It refuses while a daemon holds the data directory (and holds it itself
// meanwhile, so no daemon starts half-way), checks the backup first
// (integrity, schema version not newer than this binary), and keeps the
// database it replaces next to it as <name>.pre-restore. An older schema is
// fine: the daemon migrates it when it starts. On PostgreSQL it writes the
// pg_restore command to out and returns an error wrapping ErrPostgres.
func Restore(ctx context.Context, cfg config.Config, src string, out io.Writer) error {
	cfg.Resolve()
	if gormstore.IsPostgres(cfg.DatabaseURL) {
		fmt.Fprintf(out, "vcd restore restores SQLite databases only; restore a pg_dump archive with pg_restore (stop vcd first):\n\n  pg_restore --clean --if-exists --no-owner --dbname=%s %s\n\n"+
			"(the password is left out: give it with PGPASSWORD or ~/.pgpass)\n", shellQuote(PublicURL(cfg.DatabaseURL)), shellQuote(src))
		return fmt.Errorf("restore: %w: run the pg_restore command above", ErrPostgres)
	}
	lock, err := LockDataDir(cfg.DataDir)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			return fmt.Errorf("restore refused: %w; stop the daemon first", err)
		}
		return fmt.Errorf("restore: %w", err)
	}
	defer lock.Release()

	v, err := CheckBackup(ctx, src)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	target, err := filepath.Abs(gormstore.SQLitePath(cfg.DatabaseURL))
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp := target + ".restore-tmp"
	if err := copyFile(src, tmp); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("restore: copy %s: %w", src, err)
	}
	kept := ""
	if _, err := os.Stat(target); err == nil {
		kept = target + ".pre-restore"
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(kept + suffix)
			if err := os.Rename(target+suffix, kept+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				_ = os.Remove(tmp)
				return fmt.Errorf("restore: move the current database aside: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	fmt.Fprintf(out, "restored %s into %s (schema version %d", src, target, v)
	if latest := gormstore.LatestSchemaVersion(); v < latest {
		fmt.Fprintf(out, "; vcd migrates it to %d when it starts", latest)
	}
	fmt.Fprintln(out, ")")
	if kept != "" {
		fmt.Fprintf(out, "the previous database is kept at %s\n", kept)
	}
	return nil
}

// copyFile copies src to a new file dst and syncs it, so a crash right
// after the rename cannot leave a half-written database behind.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
