package validation_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	. "github.com/onsi/gomega"

	. "github.com/gennaker/gennaker/api/v1alpha1"
	"github.com/gennaker/gennaker/controllers/validation"
)

// validSpec is a pipeline that uses every field validation looks at. Its graph:
//
//	check -> deploy-canary -> bake-time -> go-no-go --+
//	               |                                  +--> deploy-prod -> smoke -> cleanup
//	               +-------> notify ------------------+
func validSpec() PipelineSpec {
	return PipelineSpec{
		Application: "shop",
		Parameters: []Parameter{
			{Name: "image", Required: true},
			{Name: "env", Default: "staging", Options: []string{"staging", "prod"}},
			{Name: "canary_size", Default: "1"},
		},
		Triggers: []Trigger{
			{
				Cron:       &CronTrigger{Schedule: "0 9 * * 1-5", TimeZone: "Europe/Paris"},
				Parameters: map[string]string{"image": "ami-nightly", "env": "staging"},
			},
			{
				Cron:       &CronTrigger{Schedule: "@every 1h"},
				Parameters: map[string]string{"image": "ami-hourly"},
			},
		},
		Stages: []Stage{
			{ // 0
				Name: "check",
				StageType: StageType{CheckPreconditions: &CheckPreconditionsStage{Expressions: []string{
					"parameters.image.startsWith('ami-')",
					"int(parameters.canary_size) > 0",
				}}},
			},
			{ // 1
				Name:      "deploy-canary",
				DependsOn: []string{"check"},
				Timeout:   "30m",
				OnFailure: OnFailureFail,
				StageType: StageType{Deploy: &DeployStage{Clusters: []DeployTarget{
					{
						Account: "aws-prod", Region: "us-east-1", Stack: "canary",
						Capacity: Capacity{Min: 1, Max: 1, Desired: 1},
						Strategy: StrategyNone,
						CloudServerGroup: CloudServerGroup{AWS: &AWSServerGroup{
							LaunchTemplate: &LaunchTemplate{Name: "shop-${ parameters.env }", Version: "$Latest"},
							ImageID:        "${ parameters.image }",
							InstanceType:   "m7g.large",
						}},
					},
					{
						Account: "gcp-prod", Region: "europe-west1", Stack: "canary",
						Capacity: Capacity{Min: 1, Max: 1, Desired: 1},
						CloudServerGroup: CloudServerGroup{GCP: &GCPServerGroup{
							InstanceTemplate: "shop-${ parameters.env }",
							Image:            "projects/shop/global/images/${ parameters.image.replace('ami-', 'img-') }",
							MachineType:      "e2-standard-2",
							BackendServices:  []string{"shop-${ parameters.env }"},
						}},
					},
				}}},
			},
			{ // 2
				Name:      "bake-time",
				DependsOn: []string{"deploy-canary"},
				Window:    &Window{Days: []Weekday{"Mon", "Tue", "Wed", "Thu", "Fri"}, From: "09:00", To: "17:00", TimeZone: "America/New_York"},
				StageType: StageType{Wait: &WaitStage{Duration: "10m"}},
			},
			{ // 3
				Name:      "go-no-go",
				DependsOn: []string{"bake-time"},
				When:      "parameters.env == 'prod'",
				StageType: StageType{ManualJudgment: &ManualJudgmentStage{
					Instructions: "Ship ${ parameters.image } to ${ parameters.env }? Canary: ${ stages['deploy-canary'].outputs.serverGroup }",
					Inputs:       []string{"ship", "hold"},
				}},
			},
			{ // 4
				Name:      "notify",
				DependsOn: []string{"deploy-canary"},
				OnFailure: OnFailureContinue,
				StageType: StageType{Webhook: &WebhookStage{
					URL:     "https://hooks.example.com/deploys/${ parameters.env }",
					Method:  "POST",
					Headers: map[string]string{"X-Image": "${ parameters.image }", "Content-Type": "application/json"},
					Body:    `{"serverGroup": "${ stages['deploy-canary'].outputs.serverGroup }", "literal": "$${HOME}"}`,
					WaitForCompletion: &WebhookCompletion{
						StatusURL:         "${ response.body.statusURL }",
						SuccessExpression: "response.status == 200 && response.body.state == 'done'",
						FailureExpression: "response.body.state == 'failed'",
						PollInterval:      "15s",
					},
				}},
			},
			{ // 5
				Name:      "deploy-prod",
				DependsOn: []string{"go-no-go", "notify"},
				When:      "!has(stages['go-no-go'].outputs.input) || stages['go-no-go'].outputs.input == 'ship'",
				StageType: StageType{Deploy: &DeployStage{Clusters: []DeployTarget{{
					Account: "azure-prod", Region: "westeurope", Stack: "main",
					Capacity: Capacity{Min: 2, Max: 10, Desired: 3},
					Strategy: StrategyRedBlack,
					RedBlack: &RedBlack{MaxRemainingServerGroups: 2, DelayBeforeDisable: "0s", DelayBeforeScaleDown: "5m"},
					CloudServerGroup: CloudServerGroup{Azure: &AzureServerGroup{
						ImageID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/${ parameters.image }",
						VMSize:  "Standard_D2s_v5",
					}},
				}}}},
			},
			{ // 6
				Name:      "smoke",
				DependsOn: []string{"deploy-prod"},
				StageType: StageType{Pipeline: &PipelineStage{
					Name:       "smoke-tests",
					Parameters: map[string]string{"target": "${ parameters.env }-${ stages['deploy-prod'].outputs.serverGroup }"},
				}},
			},
			{ // 7
				Name:      "cleanup",
				DependsOn: []string{"smoke"},
				StageType: StageType{DestroyServerGroup: &DestroyServerGroupStage{ServerGroupTarget: ServerGroupTarget{
					Cluster: "shop-canary", Account: "aws-prod", Region: "us-east-1", Target: TargetNewest,
				}}},
			},
		},
	}
}

// modified returns validSpec changed by f.
func modified(f func(s *PipelineSpec)) PipelineSpec {
	s := validSpec()
	f(&s)
	return s
}

// waitStage is a stage that does nothing wrong by itself.
func waitStage(name string, dependsOn ...string) Stage {
	return Stage{Name: name, DependsOn: dependsOn, StageType: StageType{Wait: &WaitStage{Duration: "1s"}}}
}

func stagesSpec(stages ...Stage) PipelineSpec {
	return PipelineSpec{Application: "shop", Stages: stages}
}

func TestValidate(t *testing.T) {
	tests := map[string]struct {
		spec PipelineSpec
		// want is one "field: message part" per error, in order.
		want []string
	}{
		"valid complex pipeline": {
			spec: validSpec(),
		},
		"valid minimal pipeline": {
			spec: stagesSpec(waitStage("only")),
		},

		// The graph.
		"self-dependency": {
			spec: stagesSpec(waitStage("a", "a")),
			want: []string{`spec.stages[0].dependsOn: Invalid value: ["a"]: stages depend on each other in a cycle: a -> a`},
		},
		"3-cycle inside a larger graph, named from its smallest stage": {
			//	root <- p <- n <- m <- leaf      and m depends on p: m -> p -> n -> m
			spec: stagesSpec(
				waitStage("root"),
				waitStage("p", "root", "n"),
				waitStage("n", "m"),
				waitStage("m", "p"),
				waitStage("leaf", "m"),
			),
			want: []string{"spec.stages[3].dependsOn: cycle: m -> p -> n -> m"},
		},
		"two disjoint cycles: both, sorted by their first stage": {
			spec: stagesSpec(
				waitStage("z", "y"),
				waitStage("y", "z"),
				waitStage("b", "c"),
				waitStage("c", "b"),
			),
			want: []string{
				"spec.stages[2].dependsOn: cycle: b -> c -> b",
				"spec.stages[1].dependsOn: cycle: y -> z -> y",
			},
		},
		"cycle through the valid pipeline": {
			spec: modified(func(s *PipelineSpec) { s.Stages[0].DependsOn = []string{"bake-time"} }),
			want: []string{"spec.stages[2].dependsOn: cycle: bake-time -> deploy-canary -> check -> bake-time"},
		},
		"unknown dependency names the entry": {
			spec: modified(func(s *PipelineSpec) { s.Stages[5].DependsOn = []string{"go-no-go", "notfy"} }),
			want: []string{`spec.stages[5].dependsOn[1]: Invalid value: "notfy": no stage is named "notfy"`},
		},
		"duplicate stage name": {
			spec: stagesSpec(waitStage("a"), waitStage("b"), waitStage("a")),
			want: []string{`spec.stages[2].name: Duplicate value: "a"`},
		},
		"stage name not a DNS label": {
			spec: stagesSpec(waitStage("Deploy_Prod")),
			want: []string{"spec.stages[0].name: Invalid value: \"Deploy_Prod\": a lowercase RFC 1123 label"},
		},
		"no stage type, and two": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[2].Wait = nil
				s.Stages[7].Wait = &WaitStage{Duration: "1s"}
			}),
			want: []string{
				"spec.stages[2]: Required value: exactly one stage type must be set",
				"spec.stages[7]: Forbidden: exactly one stage type may be set, not wait and destroyServerGroup",
			},
		},

		// Expressions.
		"when does not compile": {
			spec: modified(func(s *PipelineSpec) { s.Stages[3].When = "paramters.env == 'prod'" }),
			want: []string{`spec.stages[3].when: Invalid value: "paramters.env == 'prod'": ERROR: <input>:1:1: undeclared reference to 'paramters'`},
		},
		"when is not a bool": {
			spec: modified(func(s *PipelineSpec) { s.Stages[3].When = "parameters.env" }),
			want: []string{"spec.stages[3].when: must yield a bool, not string"},
		},
		"when references an undeclared parameter": {
			spec: modified(func(s *PipelineSpec) { s.Stages[3].When = "parameters.env == 'prod' && parameters['foo'] != ''" }),
			want: []string{`spec.stages[3].when: Invalid value: "parameters.env == 'prod' && parameters['foo'] != ''": references undeclared parameter "foo"`},
		},
		"when references an unknown stage": {
			spec: modified(func(s *PipelineSpec) { s.Stages[5].When = "stages['gonogo'].outputs.input == 'ship'" }),
			want: []string{`spec.stages[5].when: references unknown stage "gonogo"`},
		},
		"response only exists in webhook completion": {
			spec: modified(func(s *PipelineSpec) { s.Stages[3].When = "response.status == 200" }),
			want: []string{"spec.stages[3].when: undeclared reference to 'response'"},
		},
		"preconditions, each by index": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[0].CheckPreconditions.Expressions = []string{"true", "parameters.image +", "parameters.nope == ''", ""}
			}),
			want: []string{
				"spec.stages[0].checkPreconditions.expressions[1]: Syntax error",
				`spec.stages[0].checkPreconditions.expressions[2]: references undeclared parameter "nope"`,
				"spec.stages[0].checkPreconditions.expressions[3]: expression is empty",
			},
		},
		"no preconditions": {
			spec: modified(func(s *PipelineSpec) { s.Stages[0].CheckPreconditions.Expressions = nil }),
			want: []string{"spec.stages[0].checkPreconditions.expressions: Required value"},
		},
		"webhook completion expressions": {
			spec: modified(func(s *PipelineSpec) {
				c := s.Stages[4].Webhook.WaitForCompletion
				c.SuccessExpression = "string(response.status)"
				c.FailureExpression = "respons.body.state == 'failed'"
			}),
			want: []string{
				"spec.stages[4].webhook.waitForCompletion.successExpression: must yield a bool, not string",
				"spec.stages[4].webhook.waitForCompletion.failureExpression: undeclared reference to 'respons'",
			},
		},
		"webhook completion needs a success expression": {
			spec: modified(func(s *PipelineSpec) { s.Stages[4].Webhook.WaitForCompletion.SuccessExpression = "" }),
			want: []string{"spec.stages[4].webhook.waitForCompletion.successExpression: Required value"},
		},

		// Templates.
		"webhook templates": {
			spec: modified(func(s *PipelineSpec) {
				wh := s.Stages[4].Webhook
				wh.URL = "https://hooks.example.com/${ parameters.env"
				wh.Headers["X-Image"] = "${ parameters.img }"
				wh.Body = `{"a": "${ parameters.env + 1 }"}`
				wh.WaitForCompletion.StatusURL = "${ response.body.url }/${ trigger.user }/${ responze }"
			}),
			want: []string{
				"spec.stages[4].webhook.url: ${ at offset 26 is not closed by }",
				`spec.stages[4].webhook.headers[X-Image]: references undeclared parameter "img"`,
				"spec.stages[4].webhook.body: ${ parameters.env + 1 } at offset 7: ERROR: <input>:1:17: found no matching overload for '_+_'",
				"spec.stages[4].webhook.waitForCompletion.statusURL: undeclared reference to 'responze'",
			},
		},
		"deploy cloud block templates, every cloud": {
			spec: modified(func(s *PipelineSpec) {
				aws := s.Stages[1].Deploy.Clusters[0].AWS
				aws.ImageID = "${ parameters.imag }"
				aws.LaunchTemplate.Version = "${"
				aws.SubnetIDs = []string{"subnet-1", "${ stages['nope'].outputs.subnet }"}
				s.Stages[1].Deploy.Clusters[1].GCP.MachineType = "${ 1 + }"
				s.Stages[5].Deploy.Clusters[0].Azure.VMSize = "${ parameters.size }"
			}),
			want: []string{
				"spec.stages[1].deploy.clusters[0].aws.launchTemplate.version: ${ at offset 0 is not closed by }",
				`spec.stages[1].deploy.clusters[0].aws.imageID: references undeclared parameter "imag"`,
				`spec.stages[1].deploy.clusters[0].aws.subnetIDs[1]: references unknown stage "nope"`,
				"spec.stages[1].deploy.clusters[1].gcp.machineType: Syntax error",
				`spec.stages[5].deploy.clusters[0].azure.vmSize: references undeclared parameter "size"`,
			},
		},
		"manual judgment instructions and pipeline parameters": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[3].ManualJudgment.Instructions = "Ship ${ parameters.version }?"
				s.Stages[6].Pipeline.Parameters["target"] = "${ }"
			}),
			want: []string{
				`spec.stages[3].manualJudgment.instructions: references undeclared parameter "version"`,
				"spec.stages[6].pipeline.parameters[target]: expression is empty",
			},
		},
		"a long value is left out of the message": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[4].Webhook.Body = strings.Repeat("x", 1000) + "${ nope }"
			}),
			want: []string{"spec.stages[4].webhook.body: Invalid value: ${ nope } at offset 1000: ERROR: <input>:1:2: undeclared reference to 'nope'"},
		},

		// Triggers.
		"cron schedule that does not parse": {
			spec: modified(func(s *PipelineSpec) { s.Triggers[0].Cron.Schedule = "0 9 * * 1-5 *" }),
			want: []string{"spec.triggers[0].cron.schedule: expected exactly 5 fields"},
		},
		"cron schedule with a time zone prefix": {
			spec: modified(func(s *PipelineSpec) { s.Triggers[0].Cron.Schedule = "CRON_TZ=Europe/Paris 0 9 * * 1-5" }),
			want: []string{"spec.triggers[0].cron.schedule: must not carry a CRON_TZ= or TZ= prefix: set timeZone instead"},
		},
		"cron schedules that fire too often or never": {
			spec: modified(func(s *PipelineSpec) {
				s.Triggers[0].Cron.Schedule = "0 0 30 2 *"
				s.Triggers[1].Cron.Schedule = "@every 10s"
			}),
			want: []string{
				"spec.triggers[0].cron.schedule: never fires",
				"spec.triggers[1].cron.schedule: @every must be at least 1m",
			},
		},
		"cron time zones": {
			spec: modified(func(s *PipelineSpec) {
				s.Triggers[0].Cron.TimeZone = "Europe/Pariss"
				s.Triggers[1].Cron.TimeZone = "Local"
			}),
			want: []string{
				"spec.triggers[0].cron.timeZone: unknown time zone Europe/Pariss",
				"spec.triggers[1].cron.timeZone: not Local",
			},
		},
		"trigger parameters": {
			spec: modified(func(s *PipelineSpec) {
				s.Triggers[0].Parameters = map[string]string{"image": "ami-1", "env": "qa", "nope": "x"}
				s.Triggers[1].Parameters = nil
				s.Triggers = append(s.Triggers, Trigger{})
			}),
			want: []string{
				`spec.triggers[0].parameters[env]: Unsupported value: "qa": supported values: "staging", "prod"`,
				`spec.triggers[0].parameters[nope]: Invalid value: "x": undeclared parameter "nope"`,
				`spec.triggers[1].parameters[image]: Required value: parameter "image" is required and has no default`,
				"spec.triggers[2].cron: Required value",
				`spec.triggers[2].parameters[image]: Required value`,
			},
		},

		// Durations and windows.
		"durations": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[1].Timeout = "0s"
				s.Stages[2].Wait.Duration = "soon"
				s.Stages[4].Webhook.WaitForCompletion.PollInterval = "0s"
				s.Stages[5].Timeout = "-1h"
				s.Stages[5].Deploy.Clusters[0].RedBlack.DelayBeforeDisable = "-1s"
				s.Stages[5].Deploy.Clusters[0].RedBlack.DelayBeforeScaleDown = "5 minutes"
			}),
			want: []string{
				`spec.stages[1].timeout: Invalid value: "0s": must be greater than zero`,
				`spec.stages[2].wait.duration: Invalid value: "soon": must be a duration such as 30s, 5m or 1h30m`,
				`spec.stages[4].webhook.waitForCompletion.pollInterval: must be greater than zero`,
				`spec.stages[5].timeout: Invalid value: "-1h": must not be negative`,
				`spec.stages[5].deploy.clusters[0].redBlack.delayBeforeDisable: must not be negative`,
				`spec.stages[5].deploy.clusters[0].redBlack.delayBeforeScaleDown: must be a duration`,
			},
		},
		"zero waits and delays are fine, a missing wait duration is not": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[2].Wait.Duration = ""
				s.Stages[7] = waitStage("cleanup", "smoke")
				s.Stages[7].Wait.Duration = "0s"
			}),
			want: []string{"spec.stages[2].wait.duration: Required value"},
		},
		"window": {
			spec: modified(func(s *PipelineSpec) {
				s.Stages[2].Window = &Window{Days: []Weekday{"Mon", "Funday"}, From: "09:00", To: "09:00", TimeZone: "Mars/Olympus"}
				s.Stages[7].Window = &Window{From: "9am", To: "24:00"}
			}),
			want: []string{
				`spec.stages[2].window.days[1]: Unsupported value: "Funday"`,
				`spec.stages[2].window.to: Invalid value: "09:00": must differ from from`,
				"spec.stages[2].window.timeZone: unknown time zone Mars/Olympus",
				"spec.stages[7].window.from: must be a time of day",
				"spec.stages[7].window.to: must be a time of day",
			},
		},
		"onFailure": {
			spec: modified(func(s *PipelineSpec) { s.Stages[0].OnFailure = "Ignore" }),
			want: []string{`spec.stages[0].onFailure: Unsupported value: "Ignore"`},
		},

		// Parameters.
		"parameters": {
			spec: modified(func(s *PipelineSpec) {
				s.Parameters[1].Default = "qa"
				s.Parameters[1].Options = []string{"staging", "prod", "staging"}
				s.Parameters = append(s.Parameters, Parameter{Name: "env"}, Parameter{Name: "2fast"}, Parameter{})
			}),
			want: []string{
				`spec.parameters[1].options[2]: Duplicate value: "staging"`,
				`spec.parameters[1].default: Unsupported value: "qa": supported values: "staging", "prod", "staging"`,
				`spec.parameters[3].name: Duplicate value: "env"`,
				`spec.parameters[4].name: Invalid value: "2fast": must be a CEL identifier`,
				"spec.parameters[5].name: Required value",
			},
		},

		"every kind of problem at once, in a stable order": {
			spec: modified(func(s *PipelineSpec) {
				s.Parameters[0].Options = []string{"a", "a"}
				s.Triggers[0].Cron.Schedule = "every day"
				s.Stages[0].DependsOn = []string{"check"}
				s.Stages[3].When = "1"
			}),
			want: []string{
				`spec.parameters[0].options[1]: Duplicate value: "a"`,
				"spec.triggers[0].cron.schedule: must be a cron schedule",
				// The required image parameter now has options, and the triggers' values are not among them.
				`spec.triggers[0].parameters[image]: Unsupported value: "ami-nightly"`,
				`spec.triggers[1].parameters[image]: Unsupported value: "ami-hourly"`,
				"spec.stages[0].dependsOn: cycle: check -> check",
				"spec.stages[3].when: must yield a bool, not int",
			},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			errs := validation.PipelineSpec("", &tt.spec)

			var gotFields, wantFields []string
			for _, e := range errs {
				gotFields = append(gotFields, e.Field)
			}
			for _, w := range tt.want {
				field, _, _ := strings.Cut(w, ": ")
				wantFields = append(wantFields, field)
			}
			if diff := cmp.Diff(wantFields, gotFields); diff != "" {
				t.Fatalf("fields (-want +got):\n%s\nerrors:\n%s", diff, errs.ToAggregate())
			}
			for i, w := range tt.want {
				field, msg, _ := strings.Cut(w, ": ")
				g.Expect(errs[i].Error()).To(HavePrefix(field + ": "))
				g.Expect(errs[i].Error()).To(ContainSubstring(msg))
				g.Expect(errs[i].Error()).NotTo(ContainSubstring("\n"), "messages go into a condition: one line each")
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	g := NewWithT(t)
	g.Expect(validation.Pipeline(nil)).To(BeEmpty())
	g.Expect(validation.PipelineSpec("p", nil)).To(BeEmpty())
}

// Validation runs in the controller on every change: it must not touch the spec it checks.
func TestValidateDoesNotModify(t *testing.T) {
	g := NewWithT(t)
	s := validSpec()
	s.Stages[0].DependsOn = []string{"cleanup", "cleanup"}
	before := s.DeepCopy()
	g.Expect(validation.PipelineSpec("p", &s)).NotTo(BeEmpty())
	g.Expect(cmp.Diff(before, &s)).To(BeEmpty())
}

func TestValidateCronSchedule(t *testing.T) {
	tests := map[string]struct {
		schedule, timeZone string
		wantErr            string
	}{
		"five fields":                {schedule: "0 9 * * 1-5"},
		"names":                      {schedule: "30 6 1 JAN,JUL MON-FRI"},
		"steps and lists":            {schedule: "*/15 8-18 * * 1,3,5", timeZone: "UTC"},
		"descriptor":                 {schedule: "@hourly", timeZone: "Asia/Tokyo"},
		"every":                      {schedule: "@every 1h30m"},
		"29 February fires":          {schedule: "0 0 29 2 *"},
		"empty":                      {schedule: " ", wantErr: "schedule: must not be empty"},
		"six fields":                 {schedule: "0 0 9 * * *", wantErr: "schedule: must be a cron schedule (minute hour day-of-month month day-of-week) or a descriptor such as @hourly: expected exactly 5 fields"},
		"out of range":               {schedule: "61 * * * *", wantErr: "schedule: must be a cron schedule"},
		"unknown descriptor":         {schedule: "@fortnightly", wantErr: "schedule: must be a cron schedule"},
		"every without a duration":   {schedule: "@every often", wantErr: "schedule: @every needs a duration"},
		"every negative":             {schedule: "@every -1h", wantErr: "schedule: @every must be at least 1m"},
		"CRON_TZ prefix":             {schedule: "CRON_TZ=UTC 0 9 * * *", wantErr: "schedule: must not carry a CRON_TZ= or TZ= prefix: set timeZone instead"},
		"TZ prefix":                  {schedule: "TZ=UTC 0 9 * * *", wantErr: "set timeZone instead"},
		"never":                      {schedule: "0 0 31 4 *", wantErr: "schedule: never fires"},
		"unknown time zone":          {schedule: "@daily", timeZone: "Europe/Atlantis", wantErr: "timeZone: must be an IANA time zone name such as Europe/Paris: unknown time zone Europe/Atlantis"},
		"Local":                      {schedule: "@daily", timeZone: "Local", wantErr: "timeZone: must be an IANA time zone name"},
		"schedule is reported first": {schedule: "nope", timeZone: "nope", wantErr: "schedule:"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			g := NewWithT(t)
			err := validation.ValidateCronSchedule(tt.schedule, tt.timeZone)
			if tt.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
				return
			}
			g.Expect(err).To(MatchError(ContainSubstring(tt.wantErr)))
		})
	}
}
