// Command context copies a Docker build context as Docker sends it: every file under
// ROOT less what ROOT/.dockerignore excludes, read and matched with the library Docker's
// CLI and BuildKit use (github.com/moby/patternmatcher), so that deploy/image/check.sh
// installs from exactly what `docker build` would see, on a machine with no engine.
//
//	go run . ROOT DEST   copy the context into DEST (created; must not exist)
//	go run . ROOT        list the context's files, one a line
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: context ROOT [DEST]")
		os.Exit(2)
	}
	root := os.Args[1]
	files, err := contextFiles(root)
	if err == nil && len(os.Args) == 3 {
		err = copyAll(root, os.Args[2], files)
	} else if err == nil {
		for _, f := range files {
			fmt.Println(f)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "context:", err)
		os.Exit(1)
	}
}

// contextFiles: the slash-separated paths, relative to root, of the files and symbolic
// links Docker sends (directories follow from them).
func contextFiles(root string) ([]string, error) {
	var patterns []string
	if f, err := os.Open(filepath.Join(root, ".dockerignore")); err == nil {
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf(".dockerignore: %w", err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf(".dockerignore: %w", err)
	}
	var files []string
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		excluded, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return err
		}
		if d.IsDir() {
			// As Docker: an excluded directory is still entered when an exception
			// ("!pattern") could bring back something below it.
			if excluded && !pm.Exclusions() {
				return filepath.SkipDir
			}
			return nil
		}
		if !excluded {
			files = append(files, rel)
		}
		return nil
	})
	return files, err
}

func copyAll(root, dest string, files []string) error {
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("%s exists", dest)
	}
	for _, rel := range files {
		if err := copyOne(filepath.Join(root, rel), filepath.Join(dest, rel)); err != nil {
			return err
		}
	}
	return os.MkdirAll(dest, 0o755)
}

func copyOne(from, to string) error {
	info, err := os.Lstat(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if info.Mode()&fs.ModeSymlink != 0 {
		target, err := os.Readlink(from)
		if err != nil {
			return err
		}
		return os.Symlink(target, to)
	}
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
