package aws

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/gennaker/gennaker/controllers/cloud"
)

// Bounds of one look at an account's images. EC2 lists images in no order, so finding the newest means
// reading every page that matches; a look that would read more than maxImagePages pages is refused
// instead of answering with a newest that may not be.
const (
	imagePageSize = 1000 // DescribeImages' largest MaxResults
	maxImagePages = 10
	defaultLimit  = 20
)

var _ cloud.ImageClient = (*Client)(nil)

// MachineImages lists the account's own AMIs in q.Region that match q's name pattern and tags and are
// available, the newest (by creationDate) first, at most q.Limit of them.
func (c *Client) MachineImages(ctx context.Context, q cloud.ImageQuery) ([]cloud.MachineImage, error) {
	const op = "DescribeImages"
	switch {
	case q.Family != "":
		return nil, cloud.Invalid(op, "spec.triggers[].machineImage.family is a GCP image family; an aws account has none")
	case q.Gallery != nil:
		return nil, cloud.Invalid(op, "spec.triggers[].machineImage.gallery is an Azure compute gallery; an aws account has none")
	case q.Region == "":
		return nil, cloud.Invalid(op, "spec.triggers[].machineImage.region is required for an aws account")
	case !slices.Contains(c.regions, q.Region):
		return nil, cloud.Invalid(op, fmt.Sprintf("spec.triggers[].machineImage.region %s is not among the account's regions", q.Region))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultLimit
	}

	in := &ec2.DescribeImagesInput{
		Owners:     []string{"self"},
		Filters:    imageFilters(q),
		MaxResults: aws.Int32(imagePageSize),
	}
	var found []cloud.MachineImage
	p := ec2.NewDescribeImagesPaginator(c.region(q.Region).ec2, in)
	for pages := 0; p.HasMorePages(); pages++ {
		if pages == maxImagePages {
			return nil, cloud.Invalid(op, fmt.Sprintf("more than %d images match in %s: narrow spec.triggers[].machineImage.name or tags",
				maxImagePages*imagePageSize, q.Region))
		}
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, wrap(op, err)
		}
		for _, im := range out.Images {
			created, err := time.Parse(time.RFC3339, aws.ToString(im.CreationDate))
			if err != nil {
				// An image without a creation date cannot be ordered; EC2 always sets one.
				continue
			}
			found = append(found, cloud.MachineImage{ID: aws.ToString(im.ImageId), Name: aws.ToString(im.Name), Created: created})
		}
		// Only the newest limit are kept, so that the memory a look takes is bounded by a page.
		found = newest(found, limit)
	}
	return found, nil
}

// imageFilters are the DescribeImages filters of q: the name pattern as given (AMI names cannot hold
// EC2's wildcards, so its * is EC2's), each tag's value literal, and available images only.
func imageFilters(q cloud.ImageQuery) []ec2types.Filter {
	fs := []ec2types.Filter{{Name: aws.String("state"), Values: []string{"available"}}}
	if q.Name != "" {
		fs = append(fs, ec2types.Filter{Name: aws.String("name"), Values: []string{q.Name}})
	}
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		fs = append(fs, ec2types.Filter{Name: aws.String("tag:" + k), Values: []string{literal(q.Tags[k])}})
	}
	return fs
}

// literal escapes EC2's filter wildcards, so that a tag value of build-* matches only itself.
var literal = strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`).Replace

// newest sorts images newest first (then by ID, for a stable order among images made the same second)
// and keeps the first n.
func newest(images []cloud.MachineImage, n int) []cloud.MachineImage {
	slices.SortFunc(images, func(a, b cloud.MachineImage) int {
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(images) > n {
		images = images[:n]
	}
	return images
}
