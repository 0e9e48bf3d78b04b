// A small Porcupine-based linearizability checker for Faultline JSONL histories: the yardstick `npm run bench:check` times Faultline against.
//
// Usage: porcupine-check [-timeout 120s] history.jsonl
// Reads the same JSONL as `faultline check --model cas-register --initial null`: ops paired by process, a
// `fail` dropped (it did not happen), an `info` or a missing completion left open to the end, each key its
// own partition (checked in parallel by Porcupine, which stops at the first illegal key). Real-time order
// is the file's line order, as Faultline reads it. Prints one JSON line: valid (true, false or "unknown"),
// ops, keys, and the milliseconds spent reading and checking; exits 0 valid, 1 invalid, 3 unknown, 2 bad input.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// nullValue stands for JSON null in a register's state and in op arguments.
const nullValue = math.MinInt64

const (
	functionRead = iota
	functionWrite
	functionCas
)

type registerInput struct {
	key      string
	function int
	// argument: the value written, or the value a cas expects; next: the value a cas writes.
	argument int64
	next     int64
}

type registerOutput struct {
	// unknown: an info op or one never completed, which may or may not have taken effect.
	unknown bool
	value   int64
}

// line is the subset of a Faultline op this checker needs; the value stays raw until the function is known.
type line struct {
	Process json.RawMessage `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     json.RawMessage `json:"key"`
	Value   json.RawMessage `json:"value"`
}

// parseNumber reads an integer or null; strconv on the raw bytes, since a second json.Unmarshal per field
// would make this yardstick measure encoding/json more than Porcupine.
func parseNumber(raw json.RawMessage) (int64, error) {
	text := strings.TrimSpace(string(raw))
	if text == "" || text == "null" {
		return nullValue, nil
	}
	return strconv.ParseInt(text, 10, 64)
}

func parsePair(raw json.RawMessage) (int64, int64, error) {
	text := strings.TrimSpace(string(raw))
	comma := strings.IndexByte(text, ',')
	if len(text) < 2 || text[0] != '[' || text[len(text)-1] != ']' || comma < 0 {
		return 0, 0, fmt.Errorf("expected a [expected, new] pair, got %s", text)
	}
	first, err := parseNumber(json.RawMessage(text[1:comma]))
	if err != nil {
		return 0, 0, err
	}
	second, err := parseNumber(json.RawMessage(text[comma+1 : len(text)-1]))
	return first, second, err
}

var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var order []string
		for _, operation := range history {
			key := operation.Input.(registerInput).key
			if _, seen := byKey[key]; !seen {
				order = append(order, key)
			}
			byKey[key] = append(byKey[key], operation)
		}
		partitions := make([][]porcupine.Operation, 0, len(order))
		for _, key := range order {
			partitions = append(partitions, byKey[key])
		}
		return partitions
	},
	Init: func() interface{} { return int64(nullValue) },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		current := state.(int64)
		in := input.(registerInput)
		out := output.(registerOutput)
		switch in.function {
		case functionRead:
			return out.unknown || out.value == current, current
		case functionWrite:
			return true, in.argument
		default:
			if current == in.argument {
				return true, in.next
			}
			// A cas that did not match cannot have succeeded; an open one may simply not have happened yet.
			return out.unknown, current
		}
	},
}

type openOperation struct {
	input registerInput
	call  int64
}

func readHistory(path string) ([]porcupine.Operation, int, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer file.Close()
	scanner := bufio.NewScanner(file)
	scanner.Buffer(make([]byte, 1<<20), 64<<20)
	open := map[int64]openOperation{}
	keys := map[string]struct{}{}
	var operations []porcupine.Operation
	lineNumber := int64(0)
	for scanner.Scan() {
		lineNumber++
		text := scanner.Bytes()
		if len(text) == 0 {
			continue
		}
		var op line
		if err := json.Unmarshal(text, &op); err != nil {
			return nil, 0, fmt.Errorf("%s:%d: %v", path, lineNumber, err)
		}
		process, err := strconv.ParseInt(string(op.Process), 10, 64)
		if err != nil {
			continue // the nemesis: not a client process
		}
		if op.Type == "invoke" {
			input := registerInput{key: string(op.Key)}
			keys[input.key] = struct{}{}
			switch op.F {
			case "read":
				input.function = functionRead
			case "write":
				input.function = functionWrite
				input.argument, err = parseNumber(op.Value)
			case "cas":
				input.function = functionCas
				input.argument, input.next, err = parsePair(op.Value)
			default:
				err = fmt.Errorf("expected f read, write or cas, got %q", op.F)
			}
			if err != nil {
				return nil, 0, fmt.Errorf("%s:%d: %v", path, lineNumber, err)
			}
			open[process] = openOperation{input: input, call: lineNumber}
			continue
		}
		invocation, found := open[process]
		if !found {
			continue
		}
		delete(open, process)
		switch op.Type {
		case "ok":
			output := registerOutput{}
			if invocation.input.function == functionRead {
				if output.value, err = parseNumber(op.Value); err != nil {
					return nil, 0, fmt.Errorf("%s:%d: %v", path, lineNumber, err)
				}
			}
			operations = append(operations, porcupine.Operation{ClientId: int(process), Input: invocation.input, Call: invocation.call, Output: output, Return: lineNumber})
		case "info":
			operations = append(operations, porcupine.Operation{ClientId: int(process), Input: invocation.input, Call: invocation.call, Output: registerOutput{unknown: true}, Return: math.MaxInt64})
		}
	}
	if err := scanner.Err(); err != nil {
		return nil, 0, err
	}
	for process, invocation := range open {
		operations = append(operations, porcupine.Operation{ClientId: int(process), Input: invocation.input, Call: invocation.call, Output: registerOutput{unknown: true}, Return: math.MaxInt64})
	}
	return operations, len(keys), nil
}

func main() {
	timeout := flag.Duration("timeout", 120*time.Second, "search budget; past it the verdict is unknown")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: porcupine-check [-timeout 120s] history.jsonl")
		os.Exit(2)
	}
	started := time.Now()
	operations, keys, err := readHistory(flag.Arg(0))
	read := time.Now()
	if err != nil {
		fmt.Fprintf(os.Stderr, "porcupine-check: %v\n", err)
		os.Exit(2)
	}
	result := porcupine.CheckOperationsTimeout(registerModel, operations, *timeout)
	checked := time.Now()
	verdict, exitCode := `"unknown"`, 3
	switch result {
	case porcupine.Ok:
		verdict, exitCode = "true", 0
	case porcupine.Illegal:
		verdict, exitCode = "false", 1
	}
	fmt.Printf("{\"valid\":%s,\"ops\":%d,\"keys\":%d,\"readMs\":%d,\"checkMs\":%d}\n", verdict, len(operations), keys, read.Sub(started).Milliseconds(), checked.Sub(read).Milliseconds())
	os.Exit(exitCode)
}
