package gcp

import (
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Global images: images.insert (an operation; the image appears when it starts, READY at once),
// images.get, images.getFromFamily (the family's newest image that is READY and not deprecated) and
// images.list with maxResults, pageToken, orderBy (creationTimestamp desc, or name) and a filter in
// Compute's regular-expression form: `name eq "web-.*"` or parenthesized expressions
// `(name eq "web-.*")(labels.app eq "web")` (eq or ne, each literal an RE2 pattern matching the whole
// value, the expressions ANDed). AddImage seeds one made at a given time, deprecated or not. Not
// modelled: disks, sources, images.deprecate and images.delete, the AIP-160 filter form.

// Image is a GCP image to seed with AddImage.
type Image struct {
	// Project of the image; empty means the sim's first.
	Project string `json:"project,omitempty"`
	// Name of the image (required).
	Name   string            `json:"name"`
	Family string            `json:"family,omitempty"`
	Labels map[string]string `json:"labels,omitempty"`
	// Created is the creationTimestamp; zero means now on the sim clock.
	Created time.Time `json:"created,omitzero"`
	// Deprecated is the image's deprecation state: DEPRECATED, OBSOLETE or DELETED; empty means none.
	Deprecated string `json:"deprecated,omitempty"`
	// Status is READY (the default), PENDING or FAILED.
	Status string `json:"status,omitempty"`
}

type gceImage struct {
	Image
	id      uint64
	link    string
	pending bool
}

func (im *gceImage) view() map[string]any {
	v := map[string]any{"kind": "compute#image", "id": strconv.FormatUint(im.id, 10), "name": im.Name,
		"selfLink": im.link, "status": im.Status, "creationTimestamp": im.Created.Format("2006-01-02T15:04:05.000-07:00"),
		"sourceType": "RAW", "archiveSizeBytes": "1073741824", "diskSizeGb": "10"}
	if im.Family != "" {
		v["family"] = im.Family
	}
	if len(im.Labels) > 0 {
		v["labels"] = im.Labels
	}
	if im.Deprecated != "" {
		v["deprecated"] = map[string]any{"state": im.Deprecated}
	}
	return v
}

// AddImage makes an image as if it had been inserted at img.Created and returns its selfLink. It is not
// counted in Calls.
func (s *Sim) AddImage(img Image) (string, error) {
	if img.Project == "" {
		img.Project = s.opts.Projects[0]
	}
	if e := checkName("name", img.Name); e != nil {
		return "", e
	}
	switch img.Deprecated {
	case "", "DEPRECATED", "OBSOLETE", "DELETED":
	default:
		return "", fmt.Errorf("deprecated %q is not DEPRECATED, OBSOLETE or DELETED", img.Deprecated)
	}
	switch img.Status {
	case "":
		img.Status = "READY"
	case "READY", "PENDING", "FAILED":
	default:
		return "", fmt.Errorf("status %q is not READY, PENDING or FAILED", img.Status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.projects[img.Project] {
		return "", fmt.Errorf("the sim has no project %s", img.Project)
	}
	key := img.Project + "/" + img.Name
	if s.images[key] != nil {
		return "", fmt.Errorf("image %s exists", key)
	}
	if img.Created.IsZero() {
		img.Created = s.opts.Now()
	}
	img.Labels = maps.Clone(img.Labels)
	im := &gceImage{Image: img, id: s.nextID(), link: SelfLinkBase + "projects/" + img.Project + "/global/images/" + img.Name}
	s.images[key] = im
	return im.link, nil
}

func insertImage(s *Sim, c *call) (any, *apiError) {
	var body struct {
		Name   string            `json:"name"`
		Family string            `json:"family"`
		Labels map[string]string `json:"labels"`
	}
	if e := decode(c, &body); e != nil {
		return nil, e
	}
	if e := checkName("resource.name", body.Name); e != nil {
		return nil, e
	}
	link := c.link("global", "images", body.Name)
	key := c.project + "/" + body.Name
	if s.images[key] != nil {
		return nil, errf(http.StatusConflict, "alreadyExists", "The resource '%s' already exists", trimLink(link))
	}
	im := &gceImage{Image: Image{Project: c.project, Name: body.Name, Family: body.Family, Labels: body.Labels, Created: c.now, Status: "READY"},
		id: s.nextID(), link: link, pending: true}
	s.images[key] = im
	op := s.newOperation(c, "insert", link, nil, nil)
	op.onStart = func(time.Time) { im.pending = false }
	return op, nil
}

func getImage(s *Sim, c *call) (any, *apiError) {
	im := s.images[c.project+"/"+c.name]
	if im == nil || im.pending {
		return nil, notFound("image", trimLink(c.link("global", "images", c.name)))
	}
	return im.view(), nil
}

func getImageFromFamily(s *Sim, c *call) (any, *apiError) {
	family := c.r.PathValue("family")
	var best *gceImage
	for _, im := range s.projectImages(c.project) {
		if im.Family == family && im.Status == "READY" && im.Deprecated == "" && (best == nil || im.Created.After(best.Created)) {
			best = im
		}
	}
	if best == nil {
		return nil, notFound("image", trimLink(c.link("global", "images", "family", family)))
	}
	return best.view(), nil
}

// SetImagePageLimit makes images.list answer at most n images a page whatever maxResults asks for, so
// that tests see paging with few images; 0 means no limit.
func (s *Sim) SetImagePageLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.imagePageLimit = n
}

// projectImages are the images of a project that exist, by name.
func (s *Sim) projectImages(project string) []*gceImage {
	var out []*gceImage
	for _, k := range sortedKeys(s.images) {
		if im := s.images[k]; im.Project == project && !im.pending {
			out = append(out, im)
		}
	}
	return out
}

// maxListResults is Compute's bound on maxResults.
const maxListResults = 500

func listImages(s *Sim, c *call) (any, *apiError) {
	q := c.r.URL.Query()
	match, e := parseFilter(q.Get("filter"))
	if e != nil {
		return nil, e
	}
	limit := maxListResults
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxListResults {
			return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'maxResults': '%s'. Must be in the range [0, %d].", v, maxListResults)
		}
		if n > 0 {
			limit = n
		}
	}
	if s.imagePageLimit > 0 && limit > s.imagePageLimit {
		limit = s.imagePageLimit
	}
	var items []*gceImage
	for _, im := range s.projectImages(c.project) {
		if match(im) {
			items = append(items, im)
		}
	}
	switch order := q.Get("orderBy"); order {
	case "", "name":
	case "creationTimestamp desc":
		slices.SortStableFunc(items, func(a, b *gceImage) int { return b.Created.Compare(a.Created) })
	case "creationTimestamp":
		slices.SortStableFunc(items, func(a, b *gceImage) int { return a.Created.Compare(b.Created) })
	default:
		return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'orderBy': '%s'. Supported by this simulator: name, creationTimestamp, creationTimestamp desc.", order)
	}
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		n, ok := strings.CutPrefix(tok, "images-from-")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 || i > len(items) {
			return nil, errf(http.StatusBadRequest, "invalid", "Invalid value for field 'pageToken': '%s'.", tok)
		}
		start = i
	}
	end := min(start+limit, len(items))
	views := []map[string]any{}
	for _, im := range items[start:end] {
		views = append(views, im.view())
	}
	res := map[string]any{"kind": "compute#imageList", "id": "projects/" + c.project + "/global/images",
		"selfLink": c.link("global", "images"), "items": views}
	if end < len(items) {
		res["nextPageToken"] = "images-from-" + strconv.Itoa(end)
	}
	return res, nil
}

// filterExpr is one `field eq|ne literal` of a regular-expression filter.
var filterExpr = regexp.MustCompile(`^\s*([a-zA-Z][a-zA-Z0-9_.]*)\s+(eq|ne)\s+(?:"([^"]*)"|'([^']*)'|(\S+))\s*$`)

// parseFilter reads a filter in Compute's regular-expression form.
func parseFilter(f string) (func(*gceImage) bool, *apiError) {
	f = strings.TrimSpace(f)
	if f == "" {
		return func(*gceImage) bool { return true }, nil
	}
	var exprs []string
	if strings.HasPrefix(f, "(") {
		rest := f
		for rest != "" {
			if !strings.HasPrefix(rest, "(") {
				return nil, badFilter(f)
			}
			end := strings.IndexByte(rest, ')')
			if end < 0 {
				return nil, badFilter(f)
			}
			exprs = append(exprs, rest[1:end])
			rest = strings.TrimSpace(rest[end+1:])
		}
	} else {
		exprs = []string{f}
	}
	type cond struct {
		field string
		ne    bool
		re    *regexp.Regexp
	}
	var conds []cond
	for _, x := range exprs {
		m := filterExpr.FindStringSubmatch(x)
		if m == nil {
			return nil, badFilter(f)
		}
		re, err := regexp.Compile("^(?:" + m[3] + m[4] + m[5] + ")$")
		if err != nil {
			return nil, badFilter(f)
		}
		switch field := m[1]; {
		case field == "name", field == "family", field == "status", strings.HasPrefix(field, "labels.") && len(field) > len("labels."):
		default:
			return nil, errf(http.StatusBadRequest, "invalid", "Invalid list filter expression '%s': field %s is not supported by this simulator (name, family, status, labels.KEY).", f, field)
		}
		conds = append(conds, cond{field: m[1], ne: m[2] == "ne", re: re})
	}
	return func(im *gceImage) bool {
		for _, c := range conds {
			var v string
			switch c.field {
			case "name":
				v = im.Name
			case "family":
				v = im.Family
			case "status":
				v = im.Status
			default:
				v = im.Labels[c.field[len("labels."):]]
			}
			if c.re.MatchString(v) == c.ne {
				return false
			}
		}
		return true
	}, nil
}

func badFilter(f string) *apiError {
	return errf(http.StatusBadRequest, "invalid", "Invalid list filter expression '%s'.", f)
}

// Images returns the images that exist, by project and name.
func (s *Sim) Images() []Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Image
	for _, k := range sortedKeys(s.images) {
		if im := s.images[k]; !im.pending {
			out = append(out, im.Image)
		}
	}
	slices.SortStableFunc(out, func(a, b Image) int { return cmp.Compare(a.Project, b.Project) })
	return out
}

// addImageHandler serves POST /_sim/images, an Image as JSON; it answers {"selfLink": ...}.
func (s *Sim) addImageHandler(w http.ResponseWriter, r *http.Request) {
	var img Image
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&img); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad image JSON: " + err.Error()})
		return
	}
	link, err := s.AddImage(img)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"selfLink": link})
}
