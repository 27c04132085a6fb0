package aws

import (
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var ec2Service = &service{
	name:    ServiceEC2,
	version: "2016-11-15",
	xmlns:   "http://ec2.amazonaws.com/doc/2016-11-15/",
	ec2:     true,
	ops: map[string]opFunc{
		"CreateLaunchTemplate":           (*Sim).createLaunchTemplate,
		"CreateLaunchTemplateVersion":    (*Sim).createLaunchTemplateVersion,
		"DescribeLaunchTemplates":        (*Sim).describeLaunchTemplates,
		"DescribeLaunchTemplateVersions": (*Sim).describeLaunchTemplateVersions,
		"DeleteLaunchTemplate":           (*Sim).deleteLaunchTemplate,
		"CreateTags":                     (*Sim).createTags,
		"RegisterImage":                  (*Sim).registerImage,
		"DescribeImages":                 (*Sim).describeImages,
	},
}

// EC2 errors carry no modeled types in the SDK; callers see
// smithy.GenericAPIError with these codes.
func ec2Err(code, format string, args ...any) error {
	return errf(http.StatusBadRequest, code, format, args...)
}

func missingParam(name string) error {
	return ec2Err("MissingParameter", "The request must contain the parameter %s", name)
}

var ltNamePattern = regexp.MustCompile(`^[a-zA-Z0-9().\-/_]{3,128}$`)

// XML shapes (EC2 Query: lowerCamel names, lists of <item>).

type ec2LaunchTemplateXML struct {
	LaunchTemplateID     string      `xml:"launchTemplateId"`
	LaunchTemplateName   string      `xml:"launchTemplateName"`
	CreateTime           string      `xml:"createTime"`
	CreatedBy            string      `xml:"createdBy"`
	DefaultVersionNumber int64       `xml:"defaultVersionNumber"`
	LatestVersionNumber  int64       `xml:"latestVersionNumber"`
	Tags                 []ec2TagXML `xml:"tagSet>item"`
}

type ec2TagXML struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2LaunchTemplateVersionXML struct {
	LaunchTemplateID   string       `xml:"launchTemplateId"`
	LaunchTemplateName string       `xml:"launchTemplateName"`
	VersionNumber      int64        `xml:"versionNumber"`
	VersionDescription string       `xml:"versionDescription,omitempty"`
	CreateTime         string       `xml:"createTime"`
	CreatedBy          string       `xml:"createdBy"`
	DefaultVersion     bool         `xml:"defaultVersion"`
	LaunchTemplateData ec2LTDataXML `xml:"launchTemplateData"`
}

type ec2LTDataXML struct {
	ImageID          string   `xml:"imageId,omitempty"`
	InstanceType     string   `xml:"instanceType,omitempty"`
	UserData         string   `xml:"userData,omitempty"`
	KeyName          string   `xml:"keyName,omitempty"`
	SecurityGroupIDs []string `xml:"securityGroupIdSet>item,omitempty"`
}

type createLaunchTemplateResponse struct {
	ec2Base
	LaunchTemplate ec2LaunchTemplateXML `xml:"launchTemplate"`
}

type createLaunchTemplateVersionResponse struct {
	ec2Base
	LaunchTemplateVersion ec2LaunchTemplateVersionXML `xml:"launchTemplateVersion"`
}

type describeLaunchTemplatesResponse struct {
	ec2Base
	LaunchTemplates []ec2LaunchTemplateXML `xml:"launchTemplates>item"`
}

type describeLaunchTemplateVersionsResponse struct {
	ec2Base
	LaunchTemplateVersions []ec2LaunchTemplateVersionXML `xml:"launchTemplateVersionSet>item"`
}

type deleteLaunchTemplateResponse struct {
	ec2Base
	LaunchTemplate ec2LaunchTemplateXML `xml:"launchTemplate"`
}

func templateXML(lt *launchTemplate) ec2LaunchTemplateXML {
	x := ec2LaunchTemplateXML{
		LaunchTemplateID:     lt.id,
		LaunchTemplateName:   lt.name,
		CreateTime:           isoTS(lt.created),
		CreatedBy:            lt.createdBy,
		DefaultVersionNumber: lt.defaultVersion,
		LatestVersionNumber:  lt.latest(),
	}
	for _, t := range lt.tags {
		x.Tags = append(x.Tags, ec2TagXML{Key: t.key, Value: t.value})
	}
	return x
}

func versionXML(lt *launchTemplate, v *ltVersion) ec2LaunchTemplateVersionXML {
	return ec2LaunchTemplateVersionXML{
		LaunchTemplateID:   lt.id,
		LaunchTemplateName: lt.name,
		VersionNumber:      v.number,
		VersionDescription: v.description,
		CreateTime:         isoTS(v.created),
		CreatedBy:          v.createdBy,
		DefaultVersion:     v.number == lt.defaultVersion,
		LaunchTemplateData: ec2LTDataXML{
			ImageID: v.data.ImageID, InstanceType: v.data.InstanceType, UserData: v.data.UserData,
			KeyName: v.data.KeyName, SecurityGroupIDs: v.data.SecurityGroupIDs,
		},
	}
}

// templateData reads the LaunchTemplateData fields the sim keeps. Others are
// accepted and ignored.
func templateData(c *call) ltData {
	return ltData{
		ImageID:          c.form.Get("LaunchTemplateData.ImageId"),
		InstanceType:     c.form.Get("LaunchTemplateData.InstanceType"),
		UserData:         c.form.Get("LaunchTemplateData.UserData"),
		KeyName:          c.form.Get("LaunchTemplateData.KeyName"),
		SecurityGroupIDs: indexedList(c.form, "LaunchTemplateData.SecurityGroupId"),
	}
}

// fingerprint identifies the parameters of an idempotent request, so that a
// ClientToken reused with different parameters is refused as in EC2.
func fingerprint(parts ...string) string {
	for i, p := range parts {
		parts[i] = strconv.Quote(p)
	}
	return strings.Join(parts, ",")
}

func idempotentMismatch() error {
	return ec2Err("IdempotentParameterMismatch", "The client token you have provided is associated with a resource that is already deleted or has different parameters. Please use a different client token.")
}

func (s *Sim) createLaunchTemplate(c *call) (any, error) {
	rs := s.region(c.region)
	name := c.form.Get("LaunchTemplateName")
	if name == "" {
		return nil, missingParam("LaunchTemplateName")
	}
	if !ltNamePattern.MatchString(name) {
		return nil, ec2Err("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.")
	}
	data := templateData(c)
	desc := c.form.Get("VersionDescription")
	tags := ec2Tags(c, "launch-template")
	token := c.form.Get("ClientToken")
	fp := fingerprint(append([]string{name, desc}, data.fingerprint()...)...)
	if token != "" {
		if t, ok := rs.ltTokens[token]; ok {
			if t.fingerprint != fp {
				return nil, idempotentMismatch()
			}
			if lt := rs.templates[t.templateID]; lt != nil {
				return &createLaunchTemplateResponse{LaunchTemplate: templateXML(lt)}, nil
			}
			// The template was deleted since: create it afresh.
		}
	}
	if _, exists := rs.ltByName[name]; exists {
		return nil, ec2Err("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
	}
	lt := &launchTemplate{
		id:             "lt-" + s.nextID(17),
		name:           name,
		created:        c.now,
		createdBy:      c.caller.arn,
		defaultVersion: 1,
		tags:           tags,
		versionTokens:  map[string]versionToken{},
	}
	lt.versions = []*ltVersion{{number: 1, description: desc, created: c.now, createdBy: c.caller.arn, data: data}}
	rs.templates[lt.id] = lt
	rs.ltByName[name] = lt.id
	if token != "" {
		rs.ltTokens[token] = ltToken{templateID: lt.id, fingerprint: fp}
	}
	return &createLaunchTemplateResponse{LaunchTemplate: templateXML(lt)}, nil
}

// ec2Tags reads the tags of TagSpecification.N entries for one resource type.
func ec2Tags(c *call, resourceType string) []tag {
	var tags []tag
	for _, p := range structList(c.form, "TagSpecification") {
		if c.form.Get(p+".ResourceType") != resourceType {
			continue
		}
		for _, tp := range structList(c.form, p+".Tag") {
			tags = append(tags, tag{key: c.form.Get(tp + ".Key"), value: c.form.Get(tp + ".Value")})
		}
	}
	return tags
}

// lookupTemplate finds the template named by LaunchTemplateId or
// LaunchTemplateName. It returns nil, nil when neither is given.
func lookupTemplate(rs *regionState, c *call) (*launchTemplate, error) {
	id, name := c.form.Get("LaunchTemplateId"), c.form.Get("LaunchTemplateName")
	switch {
	case id != "":
		if !strings.HasPrefix(id, "lt-") {
			return nil, ec2Err("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template (%s) is malformed.", id)
		}
		lt := rs.templates[id]
		if lt == nil {
			return nil, ec2Err("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		if name != "" && name != lt.name {
			return nil, ec2Err("InvalidParameterCombination", "Specify either LaunchTemplateId or LaunchTemplateName, not both.")
		}
		return lt, nil
	case name != "":
		lt := rs.templates[rs.ltByName[name]]
		if lt == nil {
			return nil, ec2Err("InvalidLaunchTemplateName.NotFoundException", "The specified launch template, with template name %s, does not exist.", name)
		}
		return lt, nil
	}
	return nil, nil
}

// requireTemplate is lookupTemplate for operations on one template, which must
// name it.
func requireTemplate(rs *regionState, c *call) (*launchTemplate, error) {
	lt, err := lookupTemplate(rs, c)
	if err == nil && lt == nil {
		return nil, missingParam("LaunchTemplateId or LaunchTemplateName")
	}
	return lt, err
}

func versionNotFound(lt *launchTemplate, v string) error {
	return ec2Err("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for launch template %s.", v, lt.id)
}

func (s *Sim) createLaunchTemplateVersion(c *call) (any, error) {
	rs := s.region(c.region)
	lt, err := requireTemplate(rs, c)
	if err != nil {
		return nil, err
	}
	given := templateData(c)
	desc := c.form.Get("VersionDescription")
	source := c.form.Get("SourceVersion")
	token := c.form.Get("ClientToken")
	fp := fingerprint(append([]string{source, desc}, given.fingerprint()...)...)
	if token != "" {
		if t, ok := lt.versionTokens[token]; ok {
			if t.fingerprint != fp {
				return nil, idempotentMismatch()
			}
			return &createLaunchTemplateVersionResponse{LaunchTemplateVersion: versionXML(lt, lt.versions[t.number-1])}, nil
		}
	}
	data := given
	if source != "" {
		src, ok := lt.resolveVersion(source)
		if !ok {
			return nil, versionNotFound(lt, source)
		}
		// Fields not given are inherited from the source version.
		data = src.data.inherit(given)
	}
	v := &ltVersion{number: lt.latest() + 1, description: desc, created: c.now, createdBy: c.caller.arn, data: data}
	lt.versions = append(lt.versions, v)
	if token != "" {
		lt.versionTokens[token] = versionToken{number: v.number, fingerprint: fp}
	}
	return &createLaunchTemplateVersionResponse{LaunchTemplateVersion: versionXML(lt, v)}, nil
}

func (s *Sim) describeLaunchTemplates(c *call) (any, error) {
	rs := s.region(c.region)
	names := indexedList(c.form, "LaunchTemplateName")
	ids := indexedList(c.form, "LaunchTemplateId")
	match, err := ltFilters(c)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if _, ok := rs.ltByName[n]; !ok {
			return nil, ec2Err("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
		}
	}
	for _, id := range ids {
		if _, ok := rs.templates[id]; !ok {
			return nil, ec2Err("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
	}
	res := &describeLaunchTemplatesResponse{}
	for _, name := range sortedKeys(rs.ltByName) {
		lt := rs.templates[rs.ltByName[name]]
		if len(names) > 0 && !slices.Contains(names, name) {
			continue
		}
		if len(ids) > 0 && !slices.Contains(ids, lt.id) {
			continue
		}
		if match(lt) {
			res.LaunchTemplates = append(res.LaunchTemplates, templateXML(lt))
		}
	}
	return res, nil
}

// ltFilters supports the DescribeLaunchTemplates filters "launch-template-name"
// and "tag:KEY".
func ltFilters(c *call) (func(*launchTemplate) bool, error) {
	type filter struct {
		name   string
		values []string
	}
	var fs []filter
	for _, p := range structList(c.form, "Filter") {
		f := filter{name: c.form.Get(p + ".Name"), values: indexedList(c.form, p+".Value")}
		if f.name != "launch-template-name" && !strings.HasPrefix(f.name, "tag:") {
			return nil, ec2Err("InvalidParameterValue", "The filter '%s' is not supported by this simulator (supported: launch-template-name, tag:<key>).", f.name)
		}
		fs = append(fs, f)
	}
	return func(lt *launchTemplate) bool {
		for _, f := range fs {
			ok := false
			if f.name == "launch-template-name" {
				ok = slices.Contains(f.values, lt.name)
			} else {
				for _, t := range lt.tags {
					ok = ok || (t.key == f.name[len("tag:"):] && slices.Contains(f.values, t.value))
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}, nil
}

func (s *Sim) describeLaunchTemplateVersions(c *call) (any, error) {
	rs := s.region(c.region)
	lt, err := lookupTemplate(rs, c)
	if err != nil {
		return nil, err
	}
	wanted := indexedList(c.form, "LaunchTemplateVersion")
	res := &describeLaunchTemplateVersionsResponse{}
	if lt == nil {
		// Without a template, EC2 only allows asking for the $Latest or
		// $Default versions of every template.
		if len(wanted) == 0 {
			return nil, missingParam("LaunchTemplateId or LaunchTemplateName")
		}
		for _, v := range wanted {
			if v != "$Latest" && v != "$Default" {
				return nil, ec2Err("InvalidParameterCombination", "Version numbers require a launch template ID or name.")
			}
		}
		for _, name := range sortedKeys(rs.ltByName) {
			t := rs.templates[rs.ltByName[name]]
			for _, v := range wanted {
				ver, _ := t.resolveVersion(v)
				res.LaunchTemplateVersions = append(res.LaunchTemplateVersions, versionXML(t, ver))
			}
		}
		return res, nil
	}
	if len(wanted) > 0 {
		for _, v := range wanted {
			ver, ok := lt.resolveVersion(v)
			if !ok {
				return nil, versionNotFound(lt, v)
			}
			res.LaunchTemplateVersions = append(res.LaunchTemplateVersions, versionXML(lt, ver))
		}
		return res, nil
	}
	minV, maxV := int64(1), lt.latest()
	if v := c.form.Get("MinVersion"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			minV = n
		}
	}
	if v := c.form.Get("MaxVersion"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			maxV = n
		}
	}
	for _, v := range lt.versions {
		if v.number >= minV && v.number <= maxV {
			res.LaunchTemplateVersions = append(res.LaunchTemplateVersions, versionXML(lt, v))
		}
	}
	return res, nil
}

func (s *Sim) deleteLaunchTemplate(c *call) (any, error) {
	rs := s.region(c.region)
	lt, err := requireTemplate(rs, c)
	if err != nil {
		return nil, err
	}
	// Like EC2, deleting a template that groups still use is allowed; those
	// groups then stop launching instances.
	delete(rs.templates, lt.id)
	delete(rs.ltByName, lt.name)
	return &deleteLaunchTemplateResponse{LaunchTemplate: templateXML(lt)}, nil
}

type createTagsResponse struct {
	ec2Base
	Return bool `xml:"return"`
}

// createTags sets tags on launch templates, the only EC2 resources the sim has: a tag whose key the
// template has already is replaced. Any other ID is refused, and nothing is tagged then.
func (s *Sim) createTags(c *call) (any, error) {
	rs := s.region(c.region)
	ids := indexedList(c.form, "ResourceId")
	if len(ids) == 0 {
		return nil, missingParam("ResourceId")
	}
	var tags []tag
	for _, p := range structList(c.form, "Tag") {
		k := c.form.Get(p + ".Key")
		if k == "" {
			return nil, ec2Err("InvalidParameterValue", "Tag key must not be empty.")
		}
		tags = append(tags, tag{key: k, value: c.form.Get(p + ".Value")})
	}
	var lts []*launchTemplate
	for _, id := range ids {
		if !strings.HasPrefix(id, "lt-") {
			return nil, ec2Err("InvalidID", "The ID '%s' is not valid (this simulator tags launch templates only).", id)
		}
		lt := rs.templates[id]
		if lt == nil {
			return nil, ec2Err("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
		}
		lts = append(lts, lt)
	}
	for _, lt := range lts {
		for _, t := range tags {
			lt.setTag(t)
		}
	}
	return &createTagsResponse{Return: true}, nil
}
