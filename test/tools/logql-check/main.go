// Command logql-check parses LogQL queries with Loki's own parser and, for log queries, runs
// Loki's own log pipeline over sample streams. Test tooling for keda-lab's dashboard test
// (test/chart/dashboard.test.ts); keda-lab itself never runs it.
//
// Loki is pinned to a commit from before its relicensing to AGPL-3.0 (April 2021), whose tree is
// Apache-2.0: see go.mod and scripts/build-logql-check.sh.
//
// Input (stdin), either a JSON array of query strings, or an object
//
//	{"queries": ["..."], "streams": [{"labels": {"name": "value"}, "lines": ["..."]}]}
//
// Output (stdout): a JSON array, one result per query, in order:
//
//	{"query", "ok", "error"?, "kind"? ("log" | "metric"), "canonical"? (the parsed expression's
//	 String()), "matchers"? ([{label, op, value}] of a log query's stream selector),
//	 "streams"? (per input stream: whether the selector selects it, and the lines the pipeline
//	 keeps with the labels it leaves on each, __error__ included)}
//
// Exit status: 0 when the input was read (whether or not the queries parse), 2 on bad input.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/grafana/loki/pkg/logql"
	"github.com/prometheus/prometheus/pkg/labels"
)

type stream struct {
	Labels map[string]string `json:"labels"`
	Lines  []string          `json:"lines"`
}

type input struct {
	Queries []string `json:"queries"`
	Streams []stream `json:"streams"`
}

type matcher struct {
	Label string `json:"label"`
	Op    string `json:"op"`
	Value string `json:"value"`
}

type keptLine struct {
	Line   string            `json:"line"`
	Labels map[string]string `json:"labels"`
}

type streamResult struct {
	Selected bool       `json:"selected"`
	Kept     []keptLine `json:"kept"`
}

type result struct {
	Query     string         `json:"query"`
	OK        bool           `json:"ok"`
	Error     string         `json:"error,omitempty"`
	Kind      string         `json:"kind,omitempty"`
	Canonical string         `json:"canonical,omitempty"`
	Matchers  []matcher      `json:"matchers,omitempty"`
	Streams   []streamResult `json:"streams,omitempty"`
}

func readInput(r io.Reader) (input, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return input{}, err
	}
	var in input
	var queries []string
	if err := json.Unmarshal(raw, &queries); err == nil {
		in.Queries = queries
		return in, nil
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return input{}, fmt.Errorf("stdin is neither a JSON array of query strings nor {\"queries\": [...], \"streams\": [...]}: %v", err)
	}
	return in, nil
}

func check(query string, streams []stream) (res result) {
	res.Query = query
	// The parser recovers its own panics into errors; anything else that panics is reported, not fatal.
	defer func() {
		if r := recover(); r != nil {
			res = result{Query: query, Error: fmt.Sprintf("panic while checking: %v", r)}
		}
	}()
	expr, err := logql.ParseExpr(query)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK = true
	res.Canonical = expr.String()
	switch e := expr.(type) {
	case logql.LogSelectorExpr:
		res.Kind = "log"
		for _, m := range e.Matchers() {
			res.Matchers = append(res.Matchers, matcher{Label: m.Name, Op: m.Type.String(), Value: m.Value})
		}
		if len(streams) > 0 {
			pipeline, err := e.Pipeline()
			if err != nil {
				return result{Query: query, Error: "pipeline: " + err.Error()}
			}
			for _, s := range streams {
				res.Streams = append(res.Streams, run(e.Matchers(), pipeline, s))
			}
		}
	case logql.SampleExpr:
		res.Kind = "metric"
	default:
		res.Kind = fmt.Sprintf("%T", e)
	}
	return res
}

// run does what Loki does with one stream: select it by its labels, then pass each line through
// the query's pipeline (line filters, parsers, label filters).
func run(matchers []*labels.Matcher, pipeline logql.Pipeline, s stream) streamResult {
	lbs := labels.FromMap(s.Labels)
	out := streamResult{Selected: true, Kept: []keptLine{}}
	for _, m := range matchers {
		if !m.Matches(lbs.Get(m.Name)) {
			out.Selected = false
			return out
		}
	}
	sp := pipeline.ForStream(lbs)
	for _, line := range s.Lines {
		resultLine, resultLabels, keep := sp.ProcessString(line)
		if !keep {
			continue
		}
		out.Kept = append(out.Kept, keptLine{Line: resultLine, Labels: resultLabels.Labels().Map()})
	}
	return out
}

func main() {
	in, err := readInput(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "logql-check:", err)
		os.Exit(2)
	}
	results := make([]result, 0, len(in.Queries))
	for _, q := range in.Queries {
		results = append(results, check(q, in.Streams))
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(results); err != nil {
		fmt.Fprintln(os.Stderr, "logql-check:", err)
		os.Exit(1)
	}
}
