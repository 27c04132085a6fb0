package azure

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// Bounds of one look at an image definition's versions. ARM lists them in no promised order and filters
// none of them on its side, so finding the newest means reading every page; a definition whose versions
// take more than maxImagePages pages is refused instead of answered with a newest that may not be.
const (
	maxImagePages = 50
	defaultLimit  = 20
)

var _ cloud.ImageClient = (*Client)(nil)

// MachineImages lists the versions of the compute gallery image definition q.Gallery names that a
// deploy may use: provisioningState Succeeded, not publishingProfile.excludeFromLatest (the versions
// "latest" would not pick are not offered either) and not past their endOfLifeDate; with q.Region, replicated to that region and not
// excluded from latest there; whose name matches q.Name (* any run of characters) and whose tags carry
// q.Tags (tag names compared as ARM does, without case). Newest first by publishedDate, at most q.Limit.
func (c *Client) MachineImages(ctx context.Context, q cloud.ImageQuery) ([]cloud.MachineImage, error) {
	const op = "GalleryImageVersions.ListByGalleryImage"
	switch {
	case q.Family != "":
		return nil, cloud.Invalid(op, "spec.triggers[].machineImage.family is a GCP image family; an azure account has none")
	case q.Gallery == nil:
		return nil, cloud.Invalid(op, "spec.triggers[].machineImage.gallery is required for an azure account")
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}
	g := q.Gallery
	name := globRegexp(q.Name)
	region := regionKey(q.Region)

	var found []cloud.MachineImage
	p := c.versions.NewListByGalleryImagePager(g.ResourceGroup, g.Gallery, g.Image, nil)
	for pages := 0; p.More(); pages++ {
		if pages == maxImagePages {
			return nil, cloud.Invalid(op, fmt.Sprintf("the versions of image definition %s/%s/%s take more than %d pages; delete old versions",
				g.ResourceGroup, g.Gallery, g.Image, maxImagePages))
		}
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap(op, err)
		}
		now := time.Now()
		for _, v := range page.Value {
			if mi, ok := usable(v, now, name, region, q.Tags); ok {
				found = append(found, mi)
			}
		}
		// Only the newest limit are kept, so that the memory a look takes is bounded by a page.
		found = newest(found, limit)
	}
	return found, nil
}

// usable is v as a MachineImage, if a deploy may use it at now and it matches the query.
func usable(v *armcompute.GalleryImageVersion, now time.Time, name *regexp.Regexp, region string, tags map[string]string) (cloud.MachineImage, bool) {
	if v == nil || v.ID == nil || v.Name == nil || v.Properties == nil || v.Properties.PublishingProfile == nil {
		return cloud.MachineImage{}, false
	}
	props, pub := v.Properties, v.Properties.PublishingProfile
	switch {
	case props.ProvisioningState == nil || *props.ProvisioningState != armcompute.GalleryProvisioningStateSucceeded:
		return cloud.MachineImage{}, false
	case pub.ExcludeFromLatest != nil && *pub.ExcludeFromLatest:
		return cloud.MachineImage{}, false
	case pub.EndOfLifeDate != nil && !pub.EndOfLifeDate.After(now):
		// Past its end of life: a new run would deploy what its publisher retired.
		return cloud.MachineImage{}, false
	case pub.PublishedDate == nil:
		// A version without a publish date cannot be ordered; ARM sets one on every published version.
		return cloud.MachineImage{}, false
	case name != nil && !name.MatchString(*v.Name):
		return cloud.MachineImage{}, false
	case region != "" && !replicatedTo(pub.TargetRegions, region):
		return cloud.MachineImage{}, false
	}
	for k, want := range tags {
		if got, ok := tag(v.Tags, k); !ok || got != want {
			return cloud.MachineImage{}, false
		}
	}
	return cloud.MachineImage{ID: *v.ID, Name: *v.Name, Created: *pub.PublishedDate}, true
}

// replicatedTo says whether the version is in region and may be picked as latest there.
func replicatedTo(regions []*armcompute.TargetRegion, region string) bool {
	for _, r := range regions {
		if r != nil && r.Name != nil && regionKey(*r.Name) == region {
			return r.ExcludeFromLatest == nil || !*r.ExcludeFromLatest
		}
	}
	return false
}

// regionKey is a region's name as ARM compares them: "West Europe" is westeurope.
func regionKey(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, " ", ""))
}

// tag is the value of the tag named k: ARM's tag names do not depend on case, their values do.
func tag(tags map[string]*string, k string) (string, bool) {
	for name, v := range tags {
		if strings.EqualFold(name, k) && v != nil {
			return *v, true
		}
	}
	return "", false
}

// globRegexp is a name pattern (* any run of characters) as an anchored regular expression; nil for none.
func globRegexp(glob string) *regexp.Regexp {
	if glob == "" {
		return nil
	}
	parts := strings.Split(glob, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^(?:" + strings.Join(parts, ".*") + ")$")
}

// newest sorts versions newest first (the higher version first among those published at once) and keeps
// the first n.
func newest(images []cloud.MachineImage, n int) []cloud.MachineImage {
	slices.SortFunc(images, func(a, b cloud.MachineImage) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return compareVersions(b.Name, a.Name)
	})
	if len(images) > n {
		images = images[:n]
	}
	return images
}

// compareVersions orders Major.Minor.Patch names by their numbers (1.10.0 after 1.9.0).
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(as), len(bs)) {
		x, errx := strconv.ParseUint(as[i], 10, 64)
		y, erry := strconv.ParseUint(bs[i], 10, 64)
		if errx != nil || erry != nil {
			return strings.Compare(a, b)
		}
		if c := cmp.Compare(x, y); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(as), len(bs))
}
