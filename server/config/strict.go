package config

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/viper"

	"github.com/virtual-company/vc/server/internal/editdist"
)

// UnknownKeyError reports a config file key or VCD_ environment variable
// that names no setting. Viper would ignore it, so a typo (`lisen:`) would
// silently run the daemon on the default instead.
type UnknownKeyError struct {
	// Key is the key as written (dotted, lower case) or the variable name.
	Key string
	// Suggestion is the closest known key or variable ("" when none is close).
	Suggestion string
}

func (e *UnknownKeyError) Error() string {
	if e.Suggestion == "" {
		return fmt.Sprintf("unknown config key %q", e.Key)
	}
	return fmt.Sprintf("unknown config key %q (did you mean %q?)", e.Key, e.Suggestion)
}

// structKeys lists every leaf key of Config, from its mapstructure tags, so
// the set of known keys cannot drift from the struct. Sections (nested
// structs) are walked; anything else, lists of sections included
// (llm.custom), is a leaf.
func structKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
			if tag == "" || tag == "-" || !f.IsExported() {
				continue
			}
			key := prefix + tag
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, key+".")
				continue
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(keys)
	return keys
}

// envName is the automatic environment variable of key.
func envName(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// knownEnv lists every VCD_ variable Load reads: the automatic name of each
// key and the aliases bound explicitly.
func knownEnv() []string {
	var names []string
	for _, k := range structKeys() {
		names = append(names, envName(k))
	}
	for _, aliases := range envAliases() {
		names = append(names, aliases...)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// envAliases maps keys to the extra variable names bound for them, besides
// the automatic VCD_<KEY>.
func envAliases() map[string][]string {
	return llmEnvAliases()
}

// checkFileKeys refuses keys in the config file at path that Config does
// not have. A key inside a known leaf (an item of llm.custom) is the
// decoder's business; a known section written as a scalar is too.
func checkFileKeys(path string) error {
	fv := viper.NewWithOptions(viper.KeyDelimiter("."))
	fv.SetConfigFile(path)
	if err := fv.ReadInConfig(); err != nil {
		return fmt.Errorf("read config file %s: %w", path, err)
	}
	known := structKeys()
	set := make(map[string]bool, len(known)*2)
	for _, k := range known {
		set[k] = true
		for p := k; strings.Contains(p, "."); {
			p = p[:strings.LastIndex(p, ".")]
			set[p] = true // a section
		}
	}
	fileKeys := fv.AllKeys()
	sort.Strings(fileKeys)
	for _, k := range fileKeys {
		if set[k] || underLeaf(k, known) {
			continue
		}
		return fmt.Errorf("config file %s: %w", path, &UnknownKeyError{Key: k, Suggestion: closest(k, known)})
	}
	return nil
}

// underLeaf reports whether key lies below a known leaf key.
func underLeaf(key string, known []string) bool {
	for _, k := range known {
		if strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// checkEnv refuses VCD_ variables that name no setting (environ is
// os.Environ()).
func checkEnv(environ []string) error {
	known := knownEnv()
	var names []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, EnvPrefix+"_") {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ok := slices.BinarySearch(known, name); !ok {
			return &UnknownKeyError{Key: name, Suggestion: closest(name, known)}
		}
	}
	return nil
}

// checkUnknown runs both checks for Load: the environment first (it
// overrides the file), then the file Load read ("" when none).
func checkUnknown(file string) error {
	if err := checkEnv(os.Environ()); err != nil {
		return err
	}
	if file == "" {
		return nil
	}
	return checkFileKeys(file)
}

// closest returns the candidate with the smallest edit distance to s, or ""
// when even that one differs in more than a third of s (a suggestion that
// far off would mislead more than help).
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editdist.Levenshtein(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}
