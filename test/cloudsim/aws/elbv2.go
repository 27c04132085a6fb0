package aws

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

var elbv2Service = &service{
	name:    ServiceELBv2,
	version: "2015-12-01",
	xmlns:   "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/",
	ops: map[string]opFunc{
		"DescribeTargetHealth": (*Sim).describeTargetHealth,
		"DescribeTargetGroups": (*Sim).describeTargetGroups,
	},
}

func targetGroupNotFound() error {
	return errf(http.StatusBadRequest, "TargetGroupNotFound", "One or more target groups not found")
}

type describeTargetHealthResult struct {
	TargetHealthDescriptions []targetHealthDescXML `xml:"TargetHealthDescriptions>member"`
}

type targetHealthDescXML struct {
	Target          targetXML       `xml:"Target"`
	HealthCheckPort string          `xml:"HealthCheckPort"`
	TargetHealth    targetHealthXML `xml:"TargetHealth"`
}

type targetXML struct {
	ID               string `xml:"Id"`
	Port             int32  `xml:"Port"`
	AvailabilityZone string `xml:"AvailabilityZone,omitempty"`
}

type targetHealthXML struct {
	State       string `xml:"State"`
	Reason      string `xml:"Reason,omitempty"`
	Description string `xml:"Description,omitempty"`
}

// registeredTarget is an instance registered in a target group.
type registeredTarget struct {
	g  *group
	in *instance
	at time.Time
}

// targetsOf lists the instances registered in tg, in group name then launch
// order.
func (s *Sim) targetsOf(rs *regionState, tgARN string) []registeredTarget {
	var out []registeredTarget
	for _, name := range sortedGroupNames(rs) {
		g := rs.groups[name]
		for _, in := range g.instances {
			if at, ok := in.registered[tgARN]; ok {
				out = append(out, registeredTarget{g: g, in: in, at: at})
			}
		}
	}
	return out
}

func (s *Sim) describeTargetHealth(c *call) (any, error) {
	arn, err := requireParam(c.form, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	tg := s.targetGroups[arn]
	if tg == nil || !tg.visibleIn(c.region) {
		return nil, targetGroupNotFound()
	}
	port := strconv.Itoa(int(tg.port))
	var res describeTargetHealthResult
	registered := s.targetsOf(s.region(c.region), arn)
	if ps := structList(c.form, "Targets.member"); len(ps) > 0 {
		// Asking about specific targets also reports the unregistered
		// ones, as "unused".
		for _, p := range ps {
			id := c.form.Get(p + ".Id")
			i := slices.IndexFunc(registered, func(t registeredTarget) bool { return t.in.id == id })
			if i < 0 {
				res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, targetHealthDescXML{
					Target:          targetXML{ID: id, Port: tg.port},
					HealthCheckPort: port,
					TargetHealth:    targetHealthXML{State: "unused", Reason: "Target.NotRegistered", Description: "Target is not registered to the target group"},
				})
				continue
			}
			res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, s.targetHealthXML(tg, registered[i], c.now))
		}
		return res, nil
	}
	for _, t := range registered {
		res.TargetHealthDescriptions = append(res.TargetHealthDescriptions, s.targetHealthXML(tg, t, c.now))
	}
	return res, nil
}

func (s *Sim) targetHealthXML(tg *targetGroup, t registeredTarget, now time.Time) targetHealthDescXML {
	state, reason, desc := s.targetState(t.g, t.at, now)
	return targetHealthDescXML{
		Target:          targetXML{ID: t.in.id, Port: tg.port, AvailabilityZone: t.in.az},
		HealthCheckPort: strconv.Itoa(int(tg.port)),
		TargetHealth:    targetHealthXML{State: state, Reason: reason, Description: desc},
	}
}

type describeTargetGroupsResult struct {
	TargetGroups []targetGroupXML `xml:"TargetGroups>member"`
}

type targetGroupXML struct {
	TargetGroupArn             string `xml:"TargetGroupArn"`
	TargetGroupName            string `xml:"TargetGroupName"`
	Protocol                   string `xml:"Protocol"`
	Port                       int32  `xml:"Port"`
	HealthCheckProtocol        string `xml:"HealthCheckProtocol"`
	HealthCheckPort            string `xml:"HealthCheckPort"`
	HealthCheckEnabled         bool   `xml:"HealthCheckEnabled"`
	HealthCheckIntervalSeconds int32  `xml:"HealthCheckIntervalSeconds"`
	HealthCheckTimeoutSeconds  int32  `xml:"HealthCheckTimeoutSeconds"`
	HealthyThresholdCount      int32  `xml:"HealthyThresholdCount"`
	UnhealthyThresholdCount    int32  `xml:"UnhealthyThresholdCount"`
	HealthCheckPath            string `xml:"HealthCheckPath"`
	TargetType                 string `xml:"TargetType"`
}

func (s *Sim) describeTargetGroups(c *call) (any, error) {
	arns := memberList(c.form, "TargetGroupArns")
	names := memberList(c.form, "Names")
	var picked []*targetGroup
	switch {
	case len(arns) > 0:
		for _, arn := range arns {
			tg := s.targetGroups[arn]
			if tg == nil || !tg.visibleIn(c.region) {
				return nil, targetGroupNotFound()
			}
			picked = append(picked, tg)
		}
	default:
		for _, arn := range sortedKeys(s.targetGroups) {
			if tg := s.targetGroups[arn]; tg.visibleIn(c.region) && (len(names) == 0 || slices.Contains(names, tg.name)) {
				picked = append(picked, tg)
			}
		}
		if len(names) > 0 && len(picked) < len(dedupe(names)) {
			return nil, targetGroupNotFound()
		}
	}
	sort.SliceStable(picked, func(i, j int) bool { return picked[i].name < picked[j].name })
	var res describeTargetGroupsResult
	for _, tg := range picked {
		res.TargetGroups = append(res.TargetGroups, targetGroupXML{
			TargetGroupArn:             tg.arn,
			TargetGroupName:            tg.name,
			Protocol:                   "HTTP",
			Port:                       tg.port,
			HealthCheckProtocol:        "HTTP",
			HealthCheckPort:            "traffic-port",
			HealthCheckEnabled:         true,
			HealthCheckIntervalSeconds: 30,
			HealthCheckTimeoutSeconds:  5,
			HealthyThresholdCount:      5,
			UnhealthyThresholdCount:    2,
			HealthCheckPath:            "/",
			TargetType:                 "instance",
		})
	}
	return res, nil
}
