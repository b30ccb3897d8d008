package dsftest

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// Subscribe mode (§7, ModelSubscription.cs): an initial model, then one
// message per Acknowledge, each either the full model or a merge-patch of
// what changed since the last one.

var subscriptionModes = enumType{dotnet: "DuetAPI.Connection.SubscriptionMode", names: []string{"Full", "Patch"}, strings: true}

var codeChannels = enumType{
	dotnet: "DuetAPI.CodeChannel",
	names: []string{"HTTP", "Telnet", "File", "USB", "Aux", "Trigger", "Queue", "LCD", "SBC", "Daemon", "Aux2",
		"Autopause", "File2", "Queue2", "Unknown"},
	strings:  true,
	nullable: true,
}

type subInit struct {
	patch   bool
	filters [][]filterItem
}

// filterItem is a converted filter segment: a name, or an index (-1 for
// [*]) that follows a name.
type filterItem struct {
	name    string
	index   int
	isIndex bool
}

func parseSubInit(o *object) (*subInit, *dnError) {
	mode, _, err := o.enum("subscriptionMode", subscriptionModes, 0)
	if err != nil {
		return nil, asDN(err)
	}
	if _, _, err := o.enum("channel", codeChannels, 0); err != nil {
		return nil, asDN(err)
	}
	filter, err := o.str("filter", "")
	if err != nil {
		return nil, asDN(err)
	}
	filters, _, err := o.strList("filters")
	if err != nil {
		return nil, asDN(err)
	}
	s := &subInit{patch: mode == 1}
	if len(filters) == 0 && filter != nil && *filter != "" {
		filters = strings.FieldsFunc(*filter, func(r rune) bool { return strings.ContainsRune(",| \r\n", r) })
	}
	for _, f := range filters {
		s.filters = append(s.filters, convertFilter(f))
	}
	return s, nil
}

var indexRe = regexp.MustCompile(`(.*)\[([\d,*]+)\]`)

// convertFilter is Filter.ConvertFilter: segments split on '.' and '/'.
func convertFilter(f string) []filterItem {
	var out []filterItem
	for _, seg := range strings.FieldsFunc(f, func(r rune) bool { return r == '.' || r == '/' }) {
		if m := indexRe.FindStringSubmatch(seg); m != nil {
			out = append(out, filterItem{name: m[1]})
			idx := -1
			if m[2] != "*" {
				idx, _ = strconv.Atoi(m[2])
			}
			out = append(out, filterItem{index: idx, isIndex: true})
			continue
		}
		out = append(out, filterItem{name: seg})
	}
	return out
}

// pathItem is one step of a changed property's path; collections are an
// item node (name plus index) like DSF's ItemPathNode.
type pathItem struct {
	name   string
	index  int
	isItem bool
}

// pathMatches is Filter.PathMatches, including its leniency: a path that
// ends before the filter does still matches.
func pathMatches(path []pathItem, filter []filterItem) bool {
	fi := 0
	for _, p := range path {
		if fi >= len(filter) {
			return false
		}
		f := filter[fi]
		fi++
		if f.isIndex {
			return false
		}
		if f.name == "**" {
			return true
		}
		if !p.isItem {
			if f.name != "*" && !strings.EqualFold(f.name, p.name) {
				return false
			}
			continue
		}
		idx := -1
		if fi < len(filter) && filter[fi].isIndex {
			idx = filter[fi].index
			fi++
		}
		if (f.name != "*" && f.name != p.name) || (idx != -1 && idx != p.index) {
			return false
		}
	}
	return true
}

// The OM is built from ordered (model objects); these types mark the nodes
// the initial filter treats differently.
type (
	objList []ordered // a StaticModelCollection of model objects
	dict    ordered   // a model dictionary, which the initial filter never descends into
)

func (d dict) MarshalJSON() ([]byte, error) { return ordered(d).MarshalJSON() }

// getFiltered is Filter.InternalGetFiltered on the twin's OM.
func getFiltered(node any, filter []filterItem) any {
	if node == nil || len(filter) == 0 {
		return nil
	}
	cur, rest := filter[0], filter[1:]
	if !cur.isIndex {
		obj, ok := node.(ordered)
		if !ok {
			return nil
		}
		var res ordered
		for _, p := range obj {
			if cur.name != "*" && cur.name != p.k {
				continue
			}
			if len(rest) == 0 || (len(rest) == 1 && !rest[0].isIndex && rest[0].name == "**") {
				res = append(res, p)
				continue
			}
			switch p.v.(type) {
			case ordered, objList, []any, []ordered:
				if sub := getFiltered(p.v, rest); sub != nil {
					res = append(res, kv{p.k, sub})
				}
			}
		}
		if len(res) == 0 {
			return nil
		}
		return res
	}
	list, isObjList := node.(objList)
	if !isObjList {
		switch l := node.(type) {
		case []any:
			if cur.index >= -1 && cur.index < len(l) {
				return l
			}
		case []ordered:
			if cur.index >= -1 && cur.index < len(l) {
				return l
			}
		}
		return nil
	}
	if cur.index < -1 || cur.index >= len(list) {
		return nil
	}
	if cur.index == -1 && len(rest) == 0 {
		return list
	}
	res := make([]any, len(list))
	for i, item := range list {
		switch {
		case cur.index != -1 && i != cur.index:
			res[i] = ordered{}
		case len(rest) == 0:
			res[i] = item
		default:
			if sub := getFiltered(item, rest); sub != nil {
				res[i] = sub
			} else {
				res[i] = ordered{}
			}
		}
	}
	return res
}

// mergeFiltered is Filter.MergeFiltered on two filter results.
func mergeFiltered(a, b ordered) ordered {
	for _, e := range b {
		i := -1
		for j := range a {
			if a[j].k == e.k {
				i = j
				break
			}
		}
		if i < 0 {
			a = append(a, e)
			continue
		}
		switch av := a[i].v.(type) {
		case ordered:
			if bv, ok := e.v.(ordered); ok {
				a[i].v = mergeFiltered(av, bv)
			} else {
				a[i].v = e.v
			}
		case []any:
			if bv, ok := e.v.([]any); ok && len(bv) == len(av) {
				for k := range av {
					ao, aok := av[k].(ordered)
					bo, bok := bv[k].(ordered)
					if aok && bok {
						av[k] = mergeFiltered(ao, bo)
					} else if aok {
						av[k] = bv[k]
					}
				}
			}
		}
	}
	return a
}

// pnode is an accumulated merge-patch object.
type pnode struct {
	keys []string
	vals map[string]any // *pnode, json.RawMessage or []any
}

func newPnode() *pnode { return &pnode{vals: map[string]any{}} }

func (p *pnode) set(k string, v any) {
	if _, ok := p.vals[k]; !ok {
		p.keys = append(p.keys, k)
	}
	p.vals[k] = v
}

func (p *pnode) MarshalJSON() ([]byte, error) {
	o := make(ordered, 0, len(p.keys))
	for _, k := range p.keys {
		o = append(o, kv{k, p.vals[k]})
	}
	return o.MarshalJSON()
}

// child returns the object at k, creating it; nil when k already holds a
// value that will be sent whole anyway.
func (p *pnode) child(k string) *pnode {
	v, ok := p.vals[k]
	if !ok {
		c := newPnode()
		p.set(k, c)
		return c
	}
	c, _ := v.(*pnode)
	return c
}

type subscriber struct {
	init    *subInit
	pending *pnode
	dirty   bool // a Full-mode subscriber has something to resend
	wake    chan struct{}
}

// change is a property change: the path of string keys to the property and
// its new value.
type change struct {
	path  []string
	value json.RawMessage
}

// matches is ModelSubscription.CheckFilters; Full mode has no filters.
func (s *subscriber) matches(path []pathItem) bool {
	if !s.init.patch || len(s.init.filters) == 0 || len(path) == 0 {
		return true
	}
	for _, f := range s.init.filters {
		if pathMatches(path, f) {
			return true
		}
	}
	return false
}

func (s *subscriber) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// notify records a property change for every subscriber. Callers hold t.mu.
func (t *Twin) notify(ch change) {
	path := make([]pathItem, len(ch.path))
	for i, k := range ch.path {
		path[i] = pathItem{name: k}
	}
	for s := range t.subs {
		if !s.matches(path) {
			continue
		}
		if s.init.patch {
			node := s.pending
			for _, k := range ch.path[:len(ch.path)-1] {
				if node = node.child(k); node == nil {
					break
				}
			}
			if node != nil {
				node.set(ch.path[len(ch.path)-1], ch.value)
			}
		}
		s.dirty = true
		s.signal()
	}
}

// notifyEndpoints records a change of sbc.dsf.httpEndpoints: the list at
// its new length, items before first as {} placeholders unless already
// pending, the rest in full. Callers hold t.mu.
func (t *Twin) notifyEndpoints(first int) {
	path := []pathItem{{name: "sbc"}, {name: "dsf"}, {name: "httpEndpoints", index: first, isItem: true}}
	for s := range t.subs {
		if !s.matches(path) {
			continue
		}
		if s.init.patch {
			if dsf := s.pending.child("sbc"); dsf != nil {
				if dsf = dsf.child("dsf"); dsf != nil {
					old, _ := dsf.vals["httpEndpoints"].([]any)
					list := make([]any, len(t.endpoints))
					for i, e := range t.endpoints {
						switch {
						case i >= first:
							list[i] = endpointJSON(e)
						case i < len(old):
							list[i] = old[i]
						default:
							list[i] = ordered{}
						}
					}
					dsf.set("httpEndpoints", list)
				}
			}
		}
		s.dirty = true
		s.signal()
	}
}

// notifyMessage adds a new OM message; patches carry only new messages.
// Callers hold t.mu.
func (t *Twin) notifyMessage(m Message) {
	path := []pathItem{{name: "messages", index: len(t.omMessages) - 1, isItem: true}}
	for s := range t.subs {
		if !s.matches(path) {
			continue
		}
		if s.init.patch {
			l, _ := s.pending.vals["messages"].([]any)
			s.pending.set("messages", append(l, messageJSON(m)))
		}
		s.dirty = true
		s.signal()
	}
}

// snapshot is the first message of a subscription. Callers hold t.mu.
func (t *Twin) snapshot(s *subscriber) []byte {
	om := t.objectModel()
	if !s.init.patch || len(s.init.filters) == 0 {
		return marshal(om)
	}
	res := ordered{}
	typed := t.typedModel(om)
	for _, f := range s.init.filters {
		if part, ok := getFiltered(typed, f).(ordered); ok {
			res = mergeFiltered(res, part)
		}
	}
	return marshal(res)
}

// typedModel marks the OM's dictionaries and object lists for getFiltered.
func (t *Twin) typedModel(om ordered) ordered {
	out := make(ordered, len(om))
	for i, e := range om {
		switch e.k {
		case "plugins", "global":
			out[i] = kv{e.k, dict(e.v.(ordered))}
		case "boards", "fans", "inputs", "ledStrips", "spindles", "tools", "volumes":
			out[i] = kv{e.k, toObjList(e.v)}
		case "sbc":
			sbc := append(ordered(nil), e.v.(ordered)...)
			for j, p := range sbc {
				if p.k == "dsf" {
					dsf := append(ordered(nil), p.v.(ordered)...)
					for k, q := range dsf {
						if q.k == "httpEndpoints" || q.k == "userSessions" {
							dsf[k] = kv{q.k, toObjList(q.v)}
						}
					}
					sbc[j] = kv{p.k, dsf}
				}
			}
			out[i] = kv{e.k, sbc}
		default:
			out[i] = e
		}
	}
	return out
}

func toObjList(v any) objList {
	switch l := v.(type) {
	case []ordered:
		return objList(l)
	}
	return objList{}
}

type readResult struct {
	raw []byte
	err error
}

// subscribeLoop serves a Subscribe connection until the client breaks the
// protocol or goes away. DCS closes the connection, without a reply, on any
// command other than Acknowledge.
func (c *ipcConn) subscribeLoop(init *subInit) {
	t := c.t
	s := &subscriber{init: init, pending: newPnode(), wake: make(chan struct{}, 1)}
	t.mu.Lock()
	t.subs[s] = struct{}{}
	data := t.snapshot(s)
	t.mu.Unlock()
	defer func() {
		t.mu.Lock()
		delete(t.subs, s)
		t.mu.Unlock()
	}()

	// A reader goroutine lets the loop notice a closed connection while it
	// waits for model changes, as DCS's 2 s poll does.
	msgs := make(chan readResult)
	quit := make(chan struct{})
	defer close(quit)
	t.connWG.Add(1)
	go func() {
		defer t.connWG.Done()
		for {
			raw, err := readObject(c.br)
			select {
			case msgs <- readResult{raw, err}:
			case <-quit:
				return
			}
			if err != nil {
				return
			}
		}
	}()

	// DCS reads the acknowledgement only after it has sent a message, so
	// anything the client sends early waits here for that moment.
	var early []readResult
	for {
		if data != nil {
			if !c.write(data) {
				return
			}
			var r readResult
			if len(early) > 0 {
				r, early = early[0], early[1:]
			} else {
				r = <-msgs
			}
			if r.err != nil || !c.isAck(r.raw) {
				return
			}
			data = nil
		}
		select {
		case <-s.wake:
		case r := <-msgs:
			if r.err != nil {
				return // DCS's next poll would notice the closed connection
			}
			early = append(early, r)
			continue
		case <-t.ctx.Done():
			return
		}
		t.mu.Lock()
		if s.dirty {
			if s.init.patch {
				if len(s.pending.keys) > 0 {
					data = marshal(s.pending)
				}
				s.pending = newPnode()
			} else {
				data = marshal(t.objectModel())
			}
			s.dirty = false
		}
		t.mu.Unlock()
	}
}

func (c *ipcConn) isAck(raw []byte) bool {
	spec, _, _, err := c.receiveCommand(raw)
	return err == nil && spec.name == "Acknowledge" && c.allowed(spec.perms)
}
