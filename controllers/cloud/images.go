package cloud

import (
	"context"
	"time"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// ImageClient is a Client that can also read an account's machine images, for machineImage triggers. It
// only reads: no trigger changes a cloud.
type ImageClient interface {
	// MachineImages lists the images that match q, the newest first, at most q.Limit of them. A filter of q
	// that this cloud cannot apply (a family on AWS, a gallery on GCP) is an Invalid error naming the
	// trigger's field.
	MachineImages(ctx context.Context, q ImageQuery) ([]MachineImage, error)
}

// ImageQuery is what a machineImage trigger asks a cloud for (v1alpha1.MachineImageTrigger without the
// account and interval).
type ImageQuery struct {
	Region  string
	Name    string
	Tags    map[string]string
	Family  string
	Gallery *v1alpha1.GalleryImage
	// Limit bounds what one look reads and returns; zero means 20.
	Limit int
}

// MachineImage is one image as the cloud reports it.
type MachineImage struct {
	// ID is what a deploy uses: ami-..., a GCP image's self link, an Azure image version's resource ID.
	ID string
	// Name is the image's name (an Azure version's name, such as 1.4.2).
	Name string
	// Created is when the image was made (published, for an Azure version); newest first orders by it.
	Created time.Time
}
