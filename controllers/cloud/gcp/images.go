package gcp

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"cloud.google.com/go/compute/apiv1/computepb"
	"google.golang.org/api/iterator"
	"google.golang.org/protobuf/proto"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// Bounds of one look at a project's images: pages are read newest first until limit usable images are
// found, at most maxImagePages of them (deprecated and unready images are skipped here, since a filter on
// an unset deprecated field does not match).
const (
	maxImagePages = 5
	defaultLimit  = 20
	maxPageSize   = 500 // images.list's largest maxResults
)

var _ cloud.ImageClient = (*Client)(nil)

// MachineImages lists the project's images that match q: with a family, the family's image
// (images.getFromFamily: its newest that is not deprecated), if it matches q's name and labels too;
// otherwise the READY, not deprecated images whose name matches q's pattern and whose labels q's tags,
// newest first, at most q.Limit. q.Region is not used: GCP images are global.
func (c *Client) MachineImages(ctx context.Context, q cloud.ImageQuery) ([]cloud.MachineImage, error) {
	if q.Gallery != nil {
		return nil, cloud.Invalid("images.list", "spec.triggers[].machineImage.gallery is an Azure compute gallery; a gcp account has none")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	nameRE := globRegexp(q.Name)
	if q.Family != "" {
		const op = "images.getFromFamily"
		im, err := c.images.GetFromFamily(ctx, &computepb.GetFromFamilyImageRequest{Project: c.project, Family: q.Family}, c.callOpts...)
		if httpCode(err) == http.StatusNotFound {
			// A family with no image (yet, or any more) is nothing to deploy, not a failure.
			cloud.ObserveRequest("gcp", "compute", op, nil, reasonOf)
			return nil, nil
		}
		if err := c.done(op, err); err != nil {
			return nil, err
		}
		mi, ok := usable(im, nameRE, q.Tags)
		if !ok {
			return nil, nil
		}
		return []cloud.MachineImage{mi}, nil
	}

	const op = "images.list"
	req := &computepb.ListImagesRequest{
		Project:    c.project,
		Filter:     proto.String(imageFilter(q)),
		OrderBy:    proto.String("creationTimestamp desc"),
		MaxResults: proto.Uint32(uint32(min(max(2*limit, 50), maxPageSize))),
	}
	// The iterator reads a page when the one before is used up: since the list is newest first, it
	// stops as soon as limit usable images are found, and at maxImagePages pages whatever it found.
	it := c.images.List(ctx, req, c.callOpts...)
	var found []cloud.MachineImage
	for read := 0; len(found) < limit && read < maxImagePages*int(req.GetMaxResults()); read++ {
		im, err := it.Next()
		if err == iterator.Done {
			break
		}
		if err != nil {
			return nil, c.done(op, err)
		}
		if mi, ok := usable(im, nameRE, q.Tags); ok {
			found = append(found, mi)
		}
	}
	return newest(found, limit), c.done(op, nil)
}

// imageFilter is q as a filter of Compute's regular-expression form: each expression's literal is an
// RE2 pattern that must match the whole field.
func imageFilter(q cloud.ImageQuery) string {
	exprs := []string{`(status eq "READY")`}
	if q.Name != "" {
		exprs = append(exprs, fmt.Sprintf(`(name eq "%s")`, globPattern(q.Name)))
	}
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		exprs = append(exprs, fmt.Sprintf(`(labels.%s eq "%s")`, k, regexp.QuoteMeta(q.Tags[k])))
	}
	return strings.Join(exprs, "")
}

// globPattern is a name pattern (* any run of characters) as an RE2 pattern.
func globPattern(glob string) string {
	parts := strings.Split(glob, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return strings.Join(parts, ".*")
}

func globRegexp(glob string) *regexp.Regexp {
	if glob == "" {
		return nil
	}
	return regexp.MustCompile("^(?:" + globPattern(glob) + ")$")
}

// usable is im as a MachineImage, if it is READY, not deprecated, and matches name and labels: the
// filter says so already for a listed image, but getFromFamily has none.
func usable(im *computepb.Image, name *regexp.Regexp, labels map[string]string) (cloud.MachineImage, bool) {
	if im.GetStatus() != "READY" || im.GetDeprecated().GetState() != "" && im.GetDeprecated().GetState() != "ACTIVE" {
		return cloud.MachineImage{}, false
	}
	if name != nil && !name.MatchString(im.GetName()) {
		return cloud.MachineImage{}, false
	}
	for k, v := range labels {
		if im.GetLabels()[k] != v {
			return cloud.MachineImage{}, false
		}
	}
	created, err := time.Parse(time.RFC3339, im.GetCreationTimestamp())
	if err != nil {
		return cloud.MachineImage{}, false
	}
	return cloud.MachineImage{ID: im.GetSelfLink(), Name: im.GetName(), Created: created}, true
}

// newest orders images newest first (by name among those made at once) and keeps n.
func newest(images []cloud.MachineImage, n int) []cloud.MachineImage {
	slices.SortFunc(images, func(a, b cloud.MachineImage) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	if len(images) > n {
		images = images[:n]
	}
	return images
}
