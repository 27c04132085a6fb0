package azure

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Compute gallery image versions. What is modelled: GET
// .../providers/Microsoft.Compute/galleries/{g}/images/{i}/versions (GalleryAPIVersion, that of
// armcompute/v8's gallery clients), a page of ImagePageSize versions at a time in the order they were
// made, with a nextLink ($skiptoken) to the next page, as ARM does (it promises no order, so a client that
// wants the newest reads every page); each version's tags, publishingProfile (targetRegions,
// excludeFromLatest, publishedDate, endOfLifeDate) and provisioningState. A gallery and an image
// definition exist once AddImageDefinition or AddImage made them: a missing gallery is
// ParentResourceNotFound, a missing definition ResourceNotFound. Not modelled: galleries and definitions
// as resources (no GET or PUT of them), creating versions over ARM (PUT and its operation), replication,
// sharing, soft delete; a version past its end of life is still listed, as ARM lists it.

// GalleryAPIVersion is the api-version of the gallery image versions the Sim serves.
const GalleryAPIVersion = "2026-03-03"

// DefaultImagePageSize is the versions a list page holds by default: small, so that tests see paging.
const DefaultImagePageSize = 2

// ImageVersion is a gallery image version to seed with AddImage.
type ImageVersion struct {
	// ResourceGroup of the gallery; empty means the Sim's first resource group.
	ResourceGroup string `json:"resourceGroup,omitempty"`
	// Gallery and Image name the image definition (both required).
	Gallery string `json:"gallery"`
	Image   string `json:"image"`
	// Version is the version's name, Major.Minor.Patch (required).
	Version string `json:"version"`
	// Location of the version; empty means westeurope.
	Location string `json:"location,omitempty"`
	// TargetRegions it is replicated to; empty means Location alone.
	TargetRegions []string          `json:"targetRegions,omitempty"`
	Tags          map[string]string `json:"tags,omitempty"`
	// ExcludeFromLatest is publishingProfile.excludeFromLatest.
	ExcludeFromLatest bool `json:"excludeFromLatest,omitempty"`
	// ProvisioningState is Succeeded (the default), Creating, Updating, Failed, Deleting or Migrating.
	ProvisioningState string `json:"provisioningState,omitempty"`
	// Published is publishingProfile.publishedDate; zero means now on the sim clock.
	Published time.Time `json:"published,omitzero"`
	// EndOfLife is publishingProfile.endOfLifeDate; zero means none.
	EndOfLife time.Time `json:"endOfLife,omitzero"`
}

// ImageVersionView is a version as the Sim holds it.
type ImageVersionView struct {
	ImageVersion
	ID string `json:"id"`
}

// imageDefinition is one image definition of a gallery, its versions in the order they were made.
type imageDefinition struct {
	group, gallery, image string
	versions              []*ImageVersionView
}

// versionName is what ARM accepts as a gallery image version's name.
var versionName = regexp.MustCompile(`^[0-9]{1,10}\.[0-9]{1,10}\.[0-9]{1,10}$`)

var provisioningStates = []string{"Succeeded", "Creating", "Updating", "Failed", "Deleting", "Migrating"}

func imageKey(group, gallery, image string) string {
	return strings.ToLower(group) + "/" + strings.ToLower(gallery) + "/" + strings.ToLower(image)
}

// AddImageDefinition makes an image definition (and its gallery) with no version yet.
func (s *Sim) AddImageDefinition(group, gallery, image string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err := s.definition(group, gallery, image)
	return err
}

// definition returns the image definition, made if need be.
func (s *Sim) definition(group, gallery, image string) (*imageDefinition, error) {
	if group == "" {
		group = s.opts.ResourceGroups[0]
	}
	if !s.groups[strings.ToLower(group)] {
		return nil, fmt.Errorf("the sim has no resource group %s", group)
	}
	if gallery == "" || image == "" {
		return nil, fmt.Errorf("an image version needs a gallery and an image definition")
	}
	k := imageKey(group, gallery, image)
	d := s.images[k]
	if d == nil {
		d = &imageDefinition{group: group, gallery: gallery, image: image}
		s.images[k] = d
	}
	return d, nil
}

// AddImage makes a gallery image version (and its definition and gallery if need be) as if it had been
// published at v.Published, and returns its resource ID. It is not counted in Calls.
func (s *Sim) AddImage(v ImageVersion) (string, error) {
	if !versionName.MatchString(v.Version) {
		return "", fmt.Errorf("version %q is not Major.Minor.Patch", v.Version)
	}
	switch {
	case v.ProvisioningState == "":
		v.ProvisioningState = "Succeeded"
	case !slices.Contains(provisioningStates, v.ProvisioningState):
		return "", fmt.Errorf("provisioningState %q is not one of %s", v.ProvisioningState, strings.Join(provisioningStates, ", "))
	}
	if v.Location == "" {
		v.Location = "westeurope"
	}
	if len(v.TargetRegions) == 0 {
		v.TargetRegions = []string{v.Location}
	}
	v.TargetRegions = slices.Clone(v.TargetRegions)
	v.Tags = maps.Clone(v.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.definition(v.ResourceGroup, v.Gallery, v.Image)
	if err != nil {
		return "", err
	}
	if slices.ContainsFunc(d.versions, func(o *ImageVersionView) bool { return o.Version == v.Version }) {
		return "", fmt.Errorf("version %s of %s/%s exists", v.Version, d.gallery, d.image)
	}
	if v.Published.IsZero() {
		v.Published = s.opts.Now()
	}
	v.ResourceGroup, v.Gallery, v.Image = d.group, d.gallery, d.image
	view := &ImageVersionView{ImageVersion: v, ID: fmt.Sprintf(
		"/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/galleries/%s/images/%s/versions/%s",
		s.opts.SubscriptionID, d.group, d.gallery, d.image, v.Version)}
	d.versions = append(d.versions, view)
	return view.ID, nil
}

// Images returns the image versions, by resource group, gallery and definition, then in the order they
// were made.
func (s *Sim) Images() []ImageVersionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ImageVersionView
	for _, k := range sortedKeys(s.images) {
		for _, v := range s.images[k].versions {
			out = append(out, *v)
		}
	}
	return out
}

// versionJSON is a version as ARM answers it.
func versionJSON(v *ImageVersionView) map[string]any {
	regions := []any{}
	for _, r := range v.TargetRegions {
		regions = append(regions, map[string]any{"name": r, "regionalReplicaCount": 1, "storageAccountType": "Standard_LRS"})
	}
	out := map[string]any{
		"id": v.ID, "name": v.Version, "type": "Microsoft.Compute/galleries/images/versions", "location": v.Location,
		"properties": map[string]any{
			"publishingProfile": map[string]any{
				"targetRegions": regions, "replicaCount": 1, "excludeFromLatest": v.ExcludeFromLatest,
				"storageAccountType": "Standard_LRS",
				// ARM's form: seven fractional digits and a numeric offset.
				"publishedDate": v.Published.UTC().Format("2006-01-02T15:04:05.0000000-07:00"),
			},
			"storageProfile":    map[string]any{"osDiskImage": map[string]any{"sizeInGB": 30, "hostCaching": "ReadWrite"}},
			"provisioningState": v.ProvisioningState,
		},
	}
	if len(v.Tags) > 0 {
		out["tags"] = v.Tags
	}
	if !v.EndOfLife.IsZero() {
		out["properties"].(map[string]any)["publishingProfile"].(map[string]any)["endOfLifeDate"] = v.EndOfLife.UTC().Format("2006-01-02T15:04:05.0000000-07:00")
	}
	return out
}

// listImageVersions answers GalleryImageVersions.ListByGalleryImage.
func (s *Sim) listImageVersions(w http.ResponseWriter, r *http.Request, rt route) {
	d := s.images[imageKey(rt.group, rt.gallery, rt.image)]
	if d == nil {
		galleryExists := false
		for _, o := range s.images {
			galleryExists = galleryExists || strings.EqualFold(o.group, rt.group) && strings.EqualFold(o.gallery, rt.gallery)
		}
		if !galleryExists {
			writeError(w, errorf(http.StatusNotFound, "ParentResourceNotFound",
				"Can not perform requested operation on nested resource. Parent resource '%s' not found.", rt.gallery))
			return
		}
		writeError(w, errorf(http.StatusNotFound, "ResourceNotFound",
			"The Resource 'Microsoft.Compute/galleries/%s/images/%s' under resource group '%s' was not found.", rt.gallery, rt.image, rt.group))
		return
	}
	start := 0
	if tok := r.URL.Query().Get("$skiptoken"); tok != "" {
		n, err := strconv.Atoi(tok)
		if err != nil || n < 0 || n > len(d.versions) {
			writeError(w, errorf(http.StatusBadRequest, "InvalidParameter", "The $skiptoken '%s' is invalid.", tok))
			return
		}
		start = n
	}
	size := s.opts.ImagePageSize
	end := min(start+size, len(d.versions))
	values := []any{}
	for _, v := range d.versions[start:end] {
		values = append(values, versionJSON(v))
	}
	res := map[string]any{"value": values}
	if end < len(d.versions) {
		q := url.Values{"api-version": {GalleryAPIVersion}, "$skiptoken": {strconv.Itoa(end)}}
		res["nextLink"] = baseURL(r) + r.URL.Path + "?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, res)
}

// addImageHandler serves POST /_sim/images, an ImageVersion as JSON; it answers {"id": ...}.
func (s *Sim) addImageHandler(w http.ResponseWriter, r *http.Request) {
	var v ImageVersion
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad image version JSON: " + err.Error()})
		return
	}
	id, err := s.AddImage(v)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}
