// Command image assembles a container image from layer tarballs with
// go-containerregistry, and writes it as a tarball that `ctr images import`
// and `docker load` read. It is how `make image` builds images without a
// Docker engine or a registry; hack/cluster/images.sh stages the layers.
//
//	go run ./hack/image --out bin/images/manager.tar --tag localhost/modelarts-operator:dev \
//	    --layer base.tar --layer app.tar --entrypoint /manager --user 65532:65532
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// repeated collects a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	var (
		out, tag, user, workdir string
		layers, entrypoint, env repeated
	)
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	fs.StringVar(&out, "out", "", "image tarball to write")
	fs.StringVar(&tag, "tag", "", "image reference, e.g. localhost/modelarts-operator:dev")
	fs.Var(&layers, "layer", "layer tarball, bottom first (repeatable)")
	fs.Var(&entrypoint, "entrypoint", "entrypoint argument (repeatable, in order)")
	fs.Var(&env, "env", "KEY=VALUE in the image's environment (repeatable)")
	fs.StringVar(&user, "user", "", "user[:group] the image runs as")
	fs.StringVar(&workdir, "workdir", "/", "working directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if out == "" || tag == "" || len(layers) == 0 {
		return fmt.Errorf("--out, --tag and at least one --layer are required")
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("--tag: %w", err)
	}

	img := empty.Image
	for _, path := range layers {
		layer, err := tarball.LayerFromFile(path)
		if err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
		if img, err = mutate.AppendLayers(img, layer); err != nil {
			return fmt.Errorf("layer %s: %w", path, err)
		}
	}

	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS = "linux"
	cf.Architecture = runtime.GOARCH
	cf.Config.Entrypoint = entrypoint
	cf.Config.User = user
	cf.Config.WorkingDir = workdir
	cf.Config.Env = env
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	return tarball.WriteToFile(out, ref, img)
}
