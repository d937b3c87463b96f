// Package hoststate reads what is on a host in one round trip and keeps the
// record of what obsbox created there.
package hoststate

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/obsbox/obsbox/installer/catalog"
)

// RecordPath is where the record lives on every host.
const RecordPath = catalog.DataRoot + "/record.json"

// RecordFormat is bumped when the record's meaning changes.
const RecordFormat = 1

// Record lists exactly what obsbox created on a host. Uninstall removes these
// and nothing else; a user or folder that existed before obsbox is never listed.
type Record struct {
	Format     int                        `json:"format"`
	Paths      []string                   `json:"paths"`  // files, links and folders obsbox created
	Trees      []string                   `json:"trees"`  // version folders, removed whole
	Users      []string                   `json:"users"`  // system users obsbox created
	Groups     []string                   `json:"groups"` // groups obsbox created
	Units      []string                   `json:"units"`  // units obsbox installed
	Components map[string]ComponentRecord `json:"components"`
}

// ComponentRecord is what runs of a component, and what ran before the last upgrade.
type ComponentRecord struct {
	Version  string `json:"version"`
	Previous string `json:"previous,omitempty"`
	// Ungated: a rollout switched to Version, but its health gate has not
	// passed yet (the run was stopped); the next apply runs the gate.
	Ungated bool `json:"ungated,omitempty"`
}

// ParseRecord decodes a record; empty input is an empty record.
func ParseRecord(b []byte) (*Record, error) {
	r := &Record{Format: RecordFormat, Components: map[string]ComponentRecord{}}
	if len(b) == 0 {
		return r, nil
	}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("record %s is damaged: %w", RecordPath, err)
	}
	if r.Format > RecordFormat {
		return nil, fmt.Errorf("record %s has format %d; this obsbox understands up to %d: use a newer obsbox", RecordPath, r.Format, RecordFormat)
	}
	if r.Components == nil {
		r.Components = map[string]ComponentRecord{}
	}
	return r, nil
}

// Marshal encodes the record with stable ordering.
func (r *Record) Marshal() []byte {
	c := r.Clone()
	for _, s := range []*[]string{&c.Paths, &c.Trees, &c.Users, &c.Groups, &c.Units} {
		slices.Sort(*s)
		*s = slices.Compact(*s)
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	return append(b, '\n')
}

// Clone returns a deep copy.
func (r *Record) Clone() *Record {
	c := &Record{
		Format:     RecordFormat,
		Paths:      slices.Clone(r.Paths),
		Trees:      slices.Clone(r.Trees),
		Users:      slices.Clone(r.Users),
		Groups:     slices.Clone(r.Groups),
		Units:      slices.Clone(r.Units),
		Components: map[string]ComponentRecord{},
	}
	for k, v := range r.Components {
		c.Components[k] = v
	}
	return c
}

// Has reports whether the record lists path p.
func (r *Record) Has(p string) bool {
	return slices.Contains(r.Paths, p) || slices.Contains(r.Trees, p)
}

// Empty reports whether obsbox created nothing on the host.
func (r *Record) Empty() bool {
	return len(r.Paths)+len(r.Trees)+len(r.Users)+len(r.Groups)+len(r.Units) == 0
}
