package azure

import (
	"strconv"
	"strings"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
)

// Azure tag names may not contain "/", so the cloud package's canonical owner tags are written with "_"
// in its place: gennaker.io/managed-by is the tag gennaker.io_managed-by. Values are kept as they are.
const (
	TagManagedBy   = "gennaker.io_managed-by"
	TagServerGroup = "gennaker.io_server-group"
	TagUID         = "gennaker.io_uid"
	TagCluster     = "gennaker.io_cluster"
	// TagCapacityMin and TagCapacityMax keep the min and max capacity of the ServerGroup on its scale
	// set: a scale set has one capacity (sku.capacity), and its bounds live in Azure only in an autoscale
	// setting, which the operator does not make.
	TagCapacityMin = "gennaker.io_capacity-min"
	TagCapacityMax = "gennaker.io_capacity-max"
)

// azureKey maps a canonical tag key to the Azure tag name, and canonicalKey back.
func azureKey(k string) string     { return strings.Replace(k, "gennaker.io/", "gennaker.io_", 1) }
func canonicalKey(k string) string { return strings.Replace(k, "gennaker.io_", "gennaker.io/", 1) }

// setObject names a ServerGroup's scale set in errors.
func setObject(sg *v1alpha1.ServerGroup) string { return "VM scale set " + sg.Name }

// ownerOf is who a scale set's tags name.
func ownerOf(tags map[string]*string) cloud.Owner {
	canonical := make(map[string]string, len(tags))
	for k, v := range tags {
		if v != nil {
			canonical[canonicalKey(k)] = *v
		}
	}
	return cloud.ParseOwner(canonical)
}

// ownTags are the tags a scale set of the ServerGroup carries: the scale set's own (others' tags stay),
// the owner tags, and the capacity bounds c.
func ownTags(sg *v1alpha1.ServerGroup, existing map[string]*string, c v1alpha1.Capacity) map[string]*string {
	out := make(map[string]*string, len(existing)+6)
	for k, v := range existing {
		out[k] = v
	}
	for k, v := range cloud.Tags(sg) {
		out[azureKey(k)] = to(v)
	}
	out[TagCapacityMin] = to(strconv.Itoa(int(c.Min)))
	out[TagCapacityMax] = to(strconv.Itoa(int(c.Max)))
	return out
}

// bounds reads the capacity bounds a scale set's tags keep: a scale set made outside Gennaker has none,
// and counts as min 0, max its capacity.
func bounds(tags map[string]*string, desired int32) (lo, hi int32) {
	lo, hi = 0, desired
	if v := tags[TagCapacityMin]; v != nil {
		if n, err := strconv.Atoi(*v); err == nil {
			lo = int32(n)
		}
	}
	if v := tags[TagCapacityMax]; v != nil {
		if n, err := strconv.Atoi(*v); err == nil {
			hi = int32(n)
		}
	}
	return lo, hi
}

func to[T any](v T) *T { return &v }
