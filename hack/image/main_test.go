package main

import (
	"archive/tar"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// writeLayer writes a one-file layer tarball for the test.
func writeLayer(t *testing.T, path, file string, mode int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := tar.NewWriter(f)
	body := []byte("#!/bin/true\n")
	if err := w.WriteHeader(&tar.Header{Name: file, Mode: mode, Size: int64(len(body)), Uid: 0, Gid: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestAssemblesAnImageContainerdCanImport(t *testing.T) {
	dir := t.TempDir()
	base, app := filepath.Join(dir, "base.tar"), filepath.Join(dir, "app.tar")
	writeLayer(t, base, "etc/passwd", 0o644)
	writeLayer(t, app, "manager", 0o755)
	out := filepath.Join(dir, "image.tar")
	err := run([]string{"--out", out, "--tag", "localhost/modelarts-operator:dev", "--layer", base, "--layer", app,
		"--entrypoint", "/manager", "--user", "65532:65532", "--env", "PATH=/bin"})
	if err != nil {
		t.Fatal(err)
	}

	tag, err := name.NewTag("localhost/modelarts-operator:dev")
	if err != nil {
		t.Fatal(err)
	}
	img, err := tarball.ImageFromPath(out, &tag)
	if err != nil {
		t.Fatalf("the tarball is not a loadable image: %v", err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 2 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{"/manager"}) || cf.Config.User != "65532:65532" || cf.Config.WorkingDir != "/" {
		t.Errorf("config: entrypoint %v, user %q, workdir %q", cf.Config.Entrypoint, cf.Config.User, cf.Config.WorkingDir)
	}
	if !slices.Equal(cf.Config.Env, []string{"PATH=/bin"}) {
		t.Errorf("env %v", cf.Config.Env)
	}
	if len(cf.RootFS.DiffIDs) != 2 {
		t.Errorf("rootfs diff IDs: %v", cf.RootFS.DiffIDs)
	}
}

func TestRefusesIncompleteArguments(t *testing.T) {
	if err := run([]string{"--out", filepath.Join(t.TempDir(), "x.tar"), "--tag", "localhost/x:dev"}); err == nil ||
		!strings.Contains(err.Error(), "--layer") {
		t.Fatalf("err = %v, want one naming --layer", err)
	}
	if err := run([]string{"--out", "x.tar", "--tag", "Not A Reference", "--layer", "x"}); err == nil ||
		!strings.Contains(err.Error(), "--tag") {
		t.Fatalf("err = %v, want one naming --tag", err)
	}
}

// TestManagerImageMatchesDockerfile: make image gives the manager the user and
// entrypoint the Dockerfile's image has, so both images run alike.
func TestManagerImageMatchesDockerfile(t *testing.T) {
	dockerfile, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile(filepath.Join("..", "cluster", "images.sh"))
	if err != nil {
		t.Fatal(err)
	}
	user := regexp.MustCompile(`(?m)^USER (\S+)`).FindSubmatch(dockerfile)
	entry := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(dockerfile)
	build := regexp.MustCompile(`(?m)go build (-trimpath -ldflags="-s -w")`).FindSubmatch(dockerfile)
	if user == nil || entry == nil || build == nil {
		t.Fatal("the Dockerfile has no USER, ENTRYPOINT or the static go build this test expects")
	}
	want := "--entrypoint " + string(entry[1]) + " --user " + string(user[1])
	if !strings.Contains(string(script), want) {
		t.Errorf("hack/cluster/images.sh does not build the manager with %q", want)
	}
	if !strings.Contains(string(script), "CGO_ENABLED=0") || !strings.Contains(string(script), string(build[1])) {
		t.Errorf("hack/cluster/images.sh does not build the binary as the Dockerfile does (CGO_ENABLED=0 %s)", build[1])
	}
}
