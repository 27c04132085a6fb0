package trigger

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/cloud"
	"github.com/gennaker/gennaker/controllers/cloudaccount"
	"github.com/gennaker/gennaker/controllers/validation"
)

// DefaultMachineImageInterval is the interval of a machineImage trigger that sets none: a new machine
// image is minutes of baking, and describing images is one of the slower, more throttled cloud calls.
const DefaultMachineImageInterval = 5 * time.Minute

// MinMachineImageInterval is the shortest interval a machineImage trigger polls at: the one the API
// admits (validation.MinImageInterval), so that an interval a Pipeline was admitted with is the one used.
const MinMachineImageInterval = validation.MinImageInterval

// machineImageLimit is how many images one look asks the cloud for: only the newest matters.
const machineImageLimit = 5

// machineImageSource is one query of one CloudAccount's images, for one namespace (whether the account
// allows it is checked at each look, as the account may change).
type machineImageSource struct {
	namespace, account string
	query              cloud.ImageQuery
}

func machineImageSourceOf(ns string, t *v1alpha1.MachineImageTrigger, in interest) (source, interest, bool) {
	in.interval = interval(t.Interval, DefaultMachineImageInterval, MinMachineImageInterval)
	q := cloud.ImageQuery{Region: t.Region, Name: t.Name, Family: t.Family, Limit: machineImageLimit}
	if len(t.Tags) > 0 {
		q.Tags = make(map[string]string, len(t.Tags))
		for k, v := range t.Tags {
			q.Tags[k] = v
		}
	}
	if t.Gallery != nil {
		g := *t.Gallery
		q.Gallery = &g
	}
	return &machineImageSource{namespace: ns, account: t.Account, query: q}, in, true
}

func (s *machineImageSource) key() string {
	tags := make([]string, 0, len(s.query.Tags))
	for k, v := range s.query.Tags {
		tags = append(tags, k+"="+v)
	}
	slices.Sort(tags)
	gallery := ""
	if g := s.query.Gallery; g != nil {
		gallery = g.ResourceGroup + "/" + g.Gallery + "/" + g.Image
	}
	return strings.Join([]string{v1alpha1.TriggerMachineImage, s.namespace, s.account, s.query.Region, s.query.Name,
		s.query.Family, gallery, strings.Join(tags, ",")}, "\x00")
}

func (s *machineImageSource) kind() string { return v1alpha1.TriggerMachineImage }

// look asks the account's cloud once for the newest images matching the query; every interest sees the
// newest.
func (s *machineImageSource) look(ctx context.Context, ps *Pollers, interests map[string]interest) map[string]Seen {
	now := ps.clock().Now()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	images, err := s.images(ctx, ps)
	if err != nil {
		return failAll(interests, now, err)
	}
	seen := Seen{CheckedAt: now, Count: len(images)}
	if len(images) > 0 {
		seen.Version, seen.Reference = images[0].Name, images[0].ID
	}
	out := make(map[string]Seen, len(interests))
	for ik := range interests {
		out[ik] = seen
	}
	return out
}

func (s *machineImageSource) images(ctx context.Context, ps *Pollers) ([]cloud.MachineImage, error) {
	var account v1alpha1.CloudAccount
	if err := ps.Cache.Get(ctx, types.NamespacedName{Name: s.account}, &account); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &Misconfigured{Field: "machineImage.account", Reason: v1alpha1.ReasonAccountNotFound,
				Err: fmt.Errorf("CloudAccount %s not found", s.account)}
		}
		return nil, err
	}
	if ok, why := cloudaccount.Allowed(&account, s.namespace); !ok {
		return nil, &Misconfigured{Field: "machineImage.account", Reason: v1alpha1.ReasonAccountNotAllowed, Err: fmt.Errorf("%s", why)}
	}
	if ps.Clouds == nil {
		return nil, fmt.Errorf("this manager reads no cloud's machine images")
	}
	c, err := ps.Clouds.For(ctx, &account)
	if err != nil {
		return nil, cloudError(err)
	}
	ic, ok := c.(cloud.ImageClient)
	if !ok {
		return nil, &Misconfigured{Field: "machineImage.account", Reason: v1alpha1.ReasonInvalidRequest,
			Err: fmt.Errorf("the %s provider of this operator cannot list machine images", account.Spec.Provider)}
	}
	images, err := ic.MachineImages(ctx, s.query)
	if err != nil {
		return nil, cloudError(err)
	}
	return images, nil
}

// cloudError makes the cloud's refusals that only a change can fix (a filter it cannot apply, credentials
// refused) misconfigurations; throttling and outages pass, for the backoff.
func cloudError(err error) error {
	switch cloud.ReasonOf(err) {
	case cloud.InvalidRequest:
		return &Misconfigured{Field: "machineImage", Reason: v1alpha1.ReasonInvalidRequest, Err: err}
	case cloud.AccessDenied, cloud.ReasonInvalidCredentials, cloud.ReasonProviderUnsupported:
		return &Misconfigured{Field: "machineImage.account", Reason: ReasonCredentials, Err: err}
	}
	return err
}
