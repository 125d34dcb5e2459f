// argocd-health runs an Argo CD resource health check (health.lua) the way Argo CD does: gopher-lua, the
// object as the global `obj` (JSON decoded into Lua tables), only the base, table, string and math
// libraries, a time limit, and the returned table read back as {status, message}.
//
// Usage: argocd-health HEALTH.lua < object.json   (prints {"status":...,"message":...})
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func decode(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.NewTable()
		for _, item := range v {
			t.Append(decode(l, item))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, item := range v {
			t.RawSetString(k, decode(l, item))
		}
		return t
	}
	panic(fmt.Sprintf("unexpected JSON value %T", value))
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: argocd-health HEALTH.lua < object.json")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var obj map[string]any
	if err := json.NewDecoder(os.Stdin).Decode(&obj); err != nil {
		fmt.Fprintln(os.Stderr, "object:", err)
		os.Exit(2)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			panic(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", decode(l, obj))
	if err := l.DoString(string(script)); err != nil {
		fmt.Fprintln(os.Stderr, "lua:", err)
		os.Exit(1)
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		fmt.Fprintf(os.Stderr, "expected a table from the script, not %s\n", l.Get(-1).Type())
		os.Exit(1)
	}
	out := map[string]string{}
	for _, key := range []string{"status", "message"} {
		value := table.RawGetString(key)
		if s, isString := value.(lua.LString); isString {
			out[key] = string(s)
		} else if value != lua.LNil {
			fmt.Fprintf(os.Stderr, "%s must be a string, not %s\n", key, value.Type())
			os.Exit(1)
		}
	}
	switch out["status"] {
	case "Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown":
	default:
		fmt.Fprintf(os.Stderr, "invalid health status %q\n", out["status"])
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}
