// Command registry is the container registry of the local demo (make dev): an in-memory OCI registry
// (go-containerregistry's) that the quickstart's image trigger watches, and a push that a CI job would do.
// It is a test double, not part of the product.
//
//	registry serve [-addr 127.0.0.1:18094] [-seed demo/app:1.0.0]
//	registry push 127.0.0.1:18094/demo/app:1.1.0
//
// serve keeps what is pushed in memory until it exits; -seed pushes an image first, so that the release
// running today is already there when a trigger first looks (a repository that does not exist is an error
// to a trigger, as on a real registry). push writes a small random image over the registry protocol, as
// `docker push` would (Docker and crane push to it as well: plain HTTP is allowed to loopback), and prints
// its digest.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	log.SetFlags(0)
	if len(os.Args) < 2 {
		log.Fatal("usage: registry serve [-addr HOST:PORT] [-seed REPO:TAG] | registry push HOST:PORT/REPO:TAG")
	}
	switch os.Args[1] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		addr := fs.String("addr", "127.0.0.1:18094", "address to listen on")
		seed := fs.String("seed", "", "REPO:TAG to push into the registry once it listens, such as demo/app:1.0.0")
		_ = fs.Parse(os.Args[2:])
		serve(*addr, *seed)
	case "push":
		if len(os.Args) != 3 {
			log.Fatal("usage: registry push HOST:PORT/REPO:TAG")
		}
		digest, err := push(os.Args[2])
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(digest)
	default:
		log.Fatalf("registry: unknown command %q (serve or push)", os.Args[1])
	}
}

func serve(addr, seed string) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.Default())), ReadHeaderTimeout: 10 * time.Second}
	go func() { log.Fatal(srv.Serve(l)) }()
	if seed != "" {
		digest, err := push(l.Addr().String() + "/" + seed)
		if err != nil {
			log.Fatalf("seeding %s: %v", seed, err)
		}
		log.Printf("seeded %s (%s)", seed, digest)
	}
	select {}
}

// push writes a random image (two small layers) as ref and returns its digest.
func push(ref string) (string, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return "", err
	}
	img, err := random.Image(512, 2)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := remote.Write(tag, img, remote.WithContext(ctx)); err != nil {
		return "", err
	}
	digest, err := img.Digest()
	return digest.String(), err
}
