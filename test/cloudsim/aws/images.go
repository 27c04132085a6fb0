package aws

import (
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

// Machine images (AMIs). They are regional, owned by an account, and EC2 lists them in no promised
// order: DescribeImages here answers in the order the images were made, a page at a time, and a client
// that wants the newest must read every page and sort by creationDate, as it must against EC2.
//
// What is modelled: RegisterImage (a name, a description and tags of resource type "image"; the image is
// available at once), DescribeImages with Owner (self, an account ID, or another owner, which has
// nothing), ImageId, the filters name, description, image-id, state, owner-id and tag:KEY (values with
// EC2's * and ? wildcards and \ escapes), MaxResults and NextToken; and AddImage, the Go and admin way to
// seed an image made at a given time or owned by someone else. Not modelled: snapshots, launch
// permissions, public images, deregistration, deprecation times.

// Image is an AMI to seed with AddImage.
type Image struct {
	// Region the image is in; empty means us-east-1.
	Region string `json:"region,omitempty"`
	// Name of the image (required).
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Created is the image's creationDate; zero means now on the sim clock.
	Created time.Time `json:"created,omitzero"`
	// Tags of the image.
	Tags map[string]string `json:"tags,omitempty"`
	// OwnerID is the account that owns the image; empty means the sim's.
	OwnerID string `json:"ownerId,omitempty"`
	// State is available (the default), pending or failed.
	State string `json:"state,omitempty"`
}

// ImageView is an AMI as the sim holds it.
type ImageView struct {
	Image
	ID string `json:"id"`
}

type image struct {
	id, name, description, ownerID, state string
	created                               time.Time
	tags                                  []tag
}

// maxImagesPerPage is EC2's bound on DescribeImages' MaxResults.
const maxImagesPerPage = 1000

// AddImage makes an image as if it had been registered at img.Created, and returns its ID. It is not
// counted in Calls.
func (s *Sim) AddImage(img Image) (string, error) {
	if img.Name == "" {
		return "", fmt.Errorf("an image needs a name")
	}
	switch img.State {
	case "":
		img.State = "available"
	case "available", "pending", "failed":
	default:
		return "", fmt.Errorf("image state %q is not available, pending or failed", img.State)
	}
	if img.Region == "" {
		img.Region = "us-east-1"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if img.Created.IsZero() {
		img.Created = s.opts.Now()
	}
	if img.OwnerID == "" {
		img.OwnerID = s.opts.AccountID
	}
	im := &image{id: "ami-" + s.nextID(17), name: img.Name, description: img.Description, ownerID: img.OwnerID,
		state: img.State, created: img.Created.UTC()}
	for _, k := range slices.Sorted(maps.Keys(img.Tags)) {
		im.tags = append(im.tags, tag{key: k, value: img.Tags[k]})
	}
	s.images[img.Region] = append(s.images[img.Region], im)
	return im.id, nil
}

// SetImagePageLimit makes DescribeImages answer at most n images a page whatever MaxResults asks for
// (EC2 may return fewer than asked), so that tests see paging with few images; 0 means no limit.
func (s *Sim) SetImagePageLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.imagePageLimit = n
}

// Images returns the images of every region, in region and creation order.
func (s *Sim) Images() []ImageView {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ImageView
	for _, r := range slices.Sorted(maps.Keys(s.images)) {
		for _, im := range s.images[r] {
			v := ImageView{ID: im.id, Image: Image{Region: r, Name: im.name, Description: im.description, Created: im.created,
				OwnerID: im.ownerID, State: im.state, Tags: map[string]string{}}}
			for _, t := range im.tags {
				v.Tags[t.key] = t.value
			}
			out = append(out, v)
		}
	}
	return out
}

type ec2ImageXML struct {
	ImageID         string      `xml:"imageId"`
	ImageLocation   string      `xml:"imageLocation"`
	ImageState      string      `xml:"imageState"`
	ImageOwnerID    string      `xml:"imageOwnerId"`
	CreationDate    string      `xml:"creationDate"`
	IsPublic        bool        `xml:"isPublic"`
	Architecture    string      `xml:"architecture"`
	ImageType       string      `xml:"imageType"`
	Name            string      `xml:"name"`
	Description     string      `xml:"description,omitempty"`
	RootDeviceType  string      `xml:"rootDeviceType"`
	RootDeviceName  string      `xml:"rootDeviceName"`
	VirtualizationT string      `xml:"virtualizationType"`
	Hypervisor      string      `xml:"hypervisor"`
	Tags            []ec2TagXML `xml:"tagSet>item,omitempty"`
}

type describeImagesResponse struct {
	ec2Base
	Images    []ec2ImageXML `xml:"imagesSet>item"`
	NextToken string        `xml:"nextToken,omitempty"`
}

type registerImageResponse struct {
	ec2Base
	ImageID string `xml:"imageId"`
}

func imageXML(im *image) ec2ImageXML {
	x := ec2ImageXML{ImageID: im.id, ImageLocation: im.ownerID + "/" + im.name, ImageState: im.state, ImageOwnerID: im.ownerID,
		CreationDate: isoTS(im.created), Architecture: "x86_64", ImageType: "machine", Name: im.name, Description: im.description,
		RootDeviceType: "ebs", RootDeviceName: "/dev/xvda", VirtualizationT: "hvm", Hypervisor: "xen"}
	for _, t := range im.tags {
		x.Tags = append(x.Tags, ec2TagXML{Key: t.key, Value: t.value})
	}
	return x
}

// amiNamePattern is what EC2 accepts as an AMI name.
var amiNamePattern = regexp.MustCompile(`^[a-zA-Z0-9().\-/_\[\]' @]{3,128}$`)

func (s *Sim) registerImage(c *call) (any, error) {
	name := c.form.Get("Name")
	if name == "" {
		return nil, missingParam("Name")
	}
	if !amiNamePattern.MatchString(name) {
		return nil, ec2Err("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/', '_', '[', ']', ''', '@' and spaces.")
	}
	for _, im := range s.images[c.region] {
		if im.name == name && im.ownerID == s.opts.AccountID {
			return nil, ec2Err("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, im.id)
		}
	}
	im := &image{id: "ami-" + s.nextID(17), name: name, description: c.form.Get("Description"), ownerID: s.opts.AccountID,
		state: "available", created: c.now.UTC(), tags: ec2Tags(c, "image")}
	s.images[c.region] = append(s.images[c.region], im)
	return &registerImageResponse{ImageID: im.id}, nil
}

func (s *Sim) describeImages(c *call) (any, error) {
	owners := indexedList(c.form, "Owner")
	ids := indexedList(c.form, "ImageId")
	match, err := imageFilters(c)
	if err != nil {
		return nil, err
	}
	limit := maxImagesPerPage
	if v, ok, err := optInt32(c.form, "MaxResults"); err != nil {
		return nil, err
	} else if ok {
		if len(ids) > 0 {
			return nil, ec2Err("InvalidParameterCombination", "The parameter ImageIds cannot be used with the parameter MaxResults")
		}
		if v < 1 || v > maxImagesPerPage {
			return nil, ec2Err("InvalidParameterValue", "Value ( %d ) for parameter maxResults is invalid. Expecting a value between 1 and %d.", v, maxImagesPerPage)
		}
		limit = int(v)
	}
	if s.imagePageLimit > 0 && limit > s.imagePageLimit {
		limit = s.imagePageLimit
	}
	start := 0
	if tok := c.form.Get("NextToken"); tok != "" {
		n, ok := strings.CutPrefix(tok, "images-from-")
		i, err := strconv.Atoi(n)
		if !ok || err != nil || i < 0 {
			return nil, ec2Err("InvalidPaginationToken", "The pagination token is not valid.")
		}
		start = i
	}
	for _, id := range ids {
		if !slices.ContainsFunc(s.images[c.region], func(im *image) bool { return im.id == id }) {
			return nil, ec2Err("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
		}
	}
	res := &describeImagesResponse{}
	all := s.images[c.region]
	for i := start; i < len(all); i++ {
		im := all[i]
		if len(ids) > 0 && !slices.Contains(ids, im.id) {
			continue
		}
		if len(owners) > 0 && !slices.ContainsFunc(owners, func(o string) bool {
			return o == im.ownerID || (o == "self" && im.ownerID == c.caller.account)
		}) {
			continue
		}
		if !match(im) {
			continue
		}
		if len(res.Images) == limit {
			// EC2's token is opaque; this one is where the next page starts.
			res.NextToken = "images-from-" + strconv.Itoa(i)
			break
		}
		res.Images = append(res.Images, imageXML(im))
	}
	return res, nil
}

// imageFilters reads DescribeImages' Filter.N parameters: an image must match every filter, and a filter
// when one of its values matches.
func imageFilters(c *call) (func(*image) bool, error) {
	type filter struct {
		name   string
		values []*regexp.Regexp
	}
	var fs []filter
	for _, p := range structList(c.form, "Filter") {
		f := filter{name: c.form.Get(p + ".Name")}
		switch {
		case f.name == "name", f.name == "description", f.name == "image-id", f.name == "state", f.name == "owner-id",
			strings.HasPrefix(f.name, "tag:") && len(f.name) > len("tag:"):
		default:
			return nil, ec2Err("InvalidParameterValue", "The filter '%s' is invalid or not supported by this simulator (supported: name, description, image-id, state, owner-id, tag:<key>).", f.name)
		}
		for _, v := range indexedList(c.form, p+".Value") {
			f.values = append(f.values, wildcard(v))
		}
		fs = append(fs, f)
	}
	return func(im *image) bool {
		for _, f := range fs {
			var got []string
			switch f.name {
			case "name":
				got = []string{im.name}
			case "description":
				got = []string{im.description}
			case "image-id":
				got = []string{im.id}
			case "state":
				got = []string{im.state}
			case "owner-id":
				got = []string{im.ownerID}
			default:
				for _, t := range im.tags {
					if t.key == f.name[len("tag:"):] {
						got = append(got, t.value)
					}
				}
			}
			if !slices.ContainsFunc(got, func(g string) bool {
				return slices.ContainsFunc(f.values, func(re *regexp.Regexp) bool { return re.MatchString(g) })
			}) {
				return false
			}
		}
		return true
	}, nil
}

// wildcard compiles an EC2 filter value: * is any run of characters, ? any one, and a backslash makes
// the next character literal.
func wildcard(v string) *regexp.Regexp {
	rs := []rune(v)
	var b strings.Builder
	b.WriteString("^")
	for i := 0; i < len(rs); i++ {
		switch ch := rs[i]; {
		case ch == '\\' && i+1 < len(rs):
			i++
			b.WriteString(regexp.QuoteMeta(string(rs[i])))
		case ch == '*':
			b.WriteString("(?s:.*)")
		case ch == '?':
			b.WriteString("(?s:.)")
		default:
			b.WriteString(regexp.QuoteMeta(string(ch)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

// addImageHandler serves POST /_sim/images, an Image as JSON; it answers {"id": "ami-..."}.
func (s *Sim) addImageHandler(w http.ResponseWriter, r *http.Request) {
	var img Image
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&img); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad image JSON: " + err.Error()})
		return
	}
	id, err := s.AddImage(img)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}
