package gcp

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// descriptionPrefix starts the description of everything the operator makes. Managed instance groups and
// instance templates have no labels, so the owner tags are written into the description, by their
// canonical keys, as key=value words after it.
const descriptionPrefix = "Made by Gennaker for a ServerGroup."

// description is the description of an object made for sg: the prefix and its owner tags.
func description(sg *v1alpha1.ServerGroup) string {
	tags := cloud.Tags(sg)
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(descriptionPrefix)
	for _, k := range keys {
		b.WriteString(" " + k + "=" + tags[k])
	}
	return b.String()
}

// ownerOf reads the owner tags back from a description: words key=value whose key is a canonical owner
// tag, after descriptionPrefix. A description written by someone else names no owner, even one that
// mentions the tags (a team's note "copied from gennaker.io/uid=...").
func ownerOf(desc string) cloud.Owner {
	tags := map[string]string{}
	rest, ok := strings.CutPrefix(desc, descriptionPrefix+" ")
	if !ok {
		return cloud.Owner{}
	}
	for _, w := range strings.Fields(rest) {
		if k, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(k, "gennaker.io/") {
			tags[k] = v
		}
	}
	return cloud.ParseOwner(tags)
}

// Instance label keys: GCP labels allow lowercase letters, digits, "-" and "_" only, so the canonical
// keys are mapped. The server group's namespace/name cannot be a label value; the description has it.
const (
	LabelManagedBy = "gennaker-managed-by"
	LabelUID       = "gennaker-uid"
	LabelCluster   = "gennaker-cluster"
)

// instanceLabels are the labels of the instances of a template made for sg, so that a person looking
// at a VM sees whose it is.
func instanceLabels(sg *v1alpha1.ServerGroup) map[string]string {
	tags := cloud.Tags(sg)
	return map[string]string{
		LabelManagedBy: labelValue(tags[cloud.TagManagedBy]),
		LabelUID:       labelValue(tags[cloud.TagUID]),
		LabelCluster:   labelValue(tags[cloud.TagCluster]),
	}
}

// labelValue keeps what a label value allows: at most 63 lowercase letters, digits, "-" and "_".
func labelValue(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '_'
	}, s)
	if len(s) > 63 {
		s = s[:63]
	}
	return s
}

// groupObject and templateObject name a ServerGroup's objects in errors.
func groupObject(sg *v1alpha1.ServerGroup) string    { return "managed instance group " + sg.Name }
func templateObject(sg *v1alpha1.ServerGroup) string { return "instance template " + sg.Name }

// Adopt is refused: a managed instance group's description, where its owner is written, cannot be
// changed after it is made, so the operator cannot mark a group it did not make as its own.
func (c *Client) Adopt(ctx context.Context, sg *v1alpha1.ServerGroup) (*v1alpha1.CloudOperation, error) {
	g, err := c.getGroup(ctx, sg)
	if err != nil {
		return nil, err
	}
	if g == nil {
		return nil, &cloud.Error{Reason: cloud.NotFound, Op: "Adopt", Err: errors.New(groupObject(sg) + " not found")}
	}
	if adopt, err := cloud.Claim(sg, groupObject(sg), ownerOf(g.GetDescription())); err != nil || !adopt {
		return nil, err
	}
	return nil, cloud.Invalid("Adopt", "adopting "+groupObject(sg)+" is not supported on GCP: the owner is written in the group's description, which cannot be changed; remove annotation "+v1alpha1.AnnotationAdopt)
}
