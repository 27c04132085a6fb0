package cloud

import (
	"fmt"

	"github.com/gennaker/gennaker/api/v1alpha1"
)

// The owner tags every cloud object the operator makes carries, by their canonical keys. A provider whose
// cloud refuses these keys (GCP labels allow no "/" or ".") maps them to keys it accepts and back, and
// leaves the rules below to this file.
const (
	// TagManagedBy is ManagedByGennaker on everything the operator made.
	TagManagedBy = "gennaker.io/managed-by"
	// TagServerGroup is the namespace/name of the ServerGroup the object was made for.
	TagServerGroup = "gennaker.io/server-group"
	// TagUID is that ServerGroup's UID: what makes an object this ServerGroup's and not an earlier one's of
	// the same name.
	TagUID = "gennaker.io/uid"
	// TagCluster is the cluster the ServerGroup belongs to; not an owner tag, but set with them.
	TagCluster = "gennaker.io/cluster"
)

// ManagedByGennaker is the value of TagManagedBy.
const ManagedByGennaker = "gennaker"

// Owner is who the owner tags of a cloud object name. The zero Owner is an object without any: made outside
// Gennaker.
type Owner struct {
	// ManagedBy is the TagManagedBy value.
	ManagedBy string
	// ServerGroup is the TagServerGroup value, namespace/name.
	ServerGroup string
	// UID is the TagUID value.
	UID string
}

// OwnerOf is the owner a ServerGroup writes on what it makes.
func OwnerOf(sg *v1alpha1.ServerGroup) Owner {
	return Owner{ManagedBy: ManagedByGennaker, ServerGroup: key(sg), UID: string(sg.UID)}
}

// ParseOwner reads the owner tags from an object's tags, by their canonical keys.
func ParseOwner(tags map[string]string) Owner {
	return Owner{ManagedBy: tags[TagManagedBy], ServerGroup: tags[TagServerGroup], UID: tags[TagUID]}
}

// Tags are the tags, by canonical key, that a ServerGroup puts on what it makes: its owner and its cluster.
func Tags(sg *v1alpha1.ServerGroup) map[string]string {
	o := OwnerOf(sg)
	cluster := sg.Labels[v1alpha1.LabelCluster]
	if cluster == "" {
		cluster = sg.Spec.ClusterName()
	}
	return map[string]string{
		TagManagedBy:   o.ManagedBy,
		TagServerGroup: o.ServerGroup,
		TagUID:         o.UID,
		TagCluster:     cluster,
	}
}

// None says the object carries no owner tag at all.
func (o Owner) None() bool { return o == Owner{} }

// String names the owner for a person: the ServerGroup and its UID, or that there is none.
func (o Owner) String() string {
	switch {
	case o.None():
		return "no Gennaker owner tags: made outside Gennaker"
	case o.ServerGroup == "" && o.UID == "":
		return "Gennaker tags that name no ServerGroup"
	case o.UID == "":
		return "ServerGroup " + o.ServerGroup
	case o.ServerGroup == "":
		return "a ServerGroup of uid " + o.UID
	}
	return fmt.Sprintf("ServerGroup %s (uid %s)", o.ServerGroup, o.UID)
}

// owns says whether o is sg: the UID decides, since a ServerGroup deleted and made again has a new one.
func (o Owner) owns(sg *v1alpha1.ServerGroup) bool { return sg.UID != "" && o.UID == string(sg.UID) }

// adoptableBy says whether sg may take the object over when asked to: nobody owns it, or its tags name a
// ServerGroup of sg's namespace and name (an earlier one, deleted with deletionPolicy Orphan). An object
// whose tags name another ServerGroup is never adoptable, nor one whose Gennaker tags name nobody.
func (o Owner) adoptableBy(sg *v1alpha1.ServerGroup) bool {
	return o.None() || o.ServerGroup == key(sg)
}

// Check refuses, with a NotOwned error, a change to object (such as "Auto Scaling group web-v001") whose
// owner tags do not name sg. Every write of a provider goes through it, adoption included (see Claim).
func Check(sg *v1alpha1.ServerGroup, object string, owner Owner) error {
	if owner.owns(sg) {
		return nil
	}
	return notOwned(sg, object, owner)
}

// Claim decides what sg may do with an object of its name that exists in the cloud: act on it (the tags
// name sg), adopt it first (adopt true: sg asks for it with AnnotationAdopt set to its own name, and the
// object is adoptable), or nothing at all (a NotOwned error naming the owner, with what would let sg take
// it over when anything would).
func Claim(sg *v1alpha1.ServerGroup, object string, owner Owner) (adopt bool, err error) {
	if owner.owns(sg) {
		return false, nil
	}
	if owner.adoptableBy(sg) && AdoptRequested(sg) {
		return true, nil
	}
	return false, notOwned(sg, object, owner)
}

// AdoptRequested says whether sg carries AnnotationAdopt with its own name, the only value that asks.
func AdoptRequested(sg *v1alpha1.ServerGroup) bool {
	return sg.Annotations[v1alpha1.AnnotationAdopt] == sg.Name
}

// OwnerError is the error inside a NotOwned Error: what the object is, who owns it, and what would let the
// ServerGroup take it over.
type OwnerError struct {
	// Object names the cloud object, such as "Auto Scaling group web-v001".
	Object string
	// Owner is who its tags name.
	Owner Owner
	// Hint says what would let the ServerGroup adopt it, or why nothing would.
	Hint string
}

func (e *OwnerError) Error() string {
	msg := e.Object + " is not this ServerGroup's: "
	if e.Owner.None() {
		msg += "it has " + e.Owner.String()
	} else {
		msg += "its tags name " + e.Owner.String()
	}
	msg += "; nothing was changed"
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

func notOwned(sg *v1alpha1.ServerGroup, object string, owner Owner) error {
	e := &OwnerError{Object: object, Owner: owner}
	value, annotated := sg.Annotations[v1alpha1.AnnotationAdopt]
	switch {
	case !owner.adoptableBy(sg):
		e.Hint = "it cannot be adopted, since its tags name another ServerGroup"
	case annotated && value != sg.Name:
		e.Hint = fmt.Sprintf("annotation %s is %q: to adopt it, its value must be this ServerGroup's name, %s",
			v1alpha1.AnnotationAdopt, value, sg.Name)
	default:
		e.Hint = fmt.Sprintf("to take it over, annotate this ServerGroup %s=%s", v1alpha1.AnnotationAdopt, sg.Name)
	}
	return &Error{Reason: NotOwned, Err: e}
}

func key(sg *v1alpha1.ServerGroup) string { return sg.Namespace + "/" + sg.Name }
