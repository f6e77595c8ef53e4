package runner

// A field mapping reshapes a run's output: its importValue is an object whose values are
// templates over one record of the output ({{properties.email}}), so {"email":
// "{{properties.email}}", "name": "{{properties.firstname}} {{properties.lastname}}"} turns each
// record into {email, name}. An output that is an array maps each element; an object holding a
// "results", "items", "data" or "records" array maps that array; anything else maps as one record.
// A record that lacks a mapped value gets null for that field rather than failing the run.

// ApplyMapping reshapes output with mapping (a field mapping's importValue).
func ApplyMapping(mapping map[string]any, output any) any {
	if len(mapping) == 0 {
		return output
	}
	switch o := output.(type) {
	case []any:
		out := make([]any, len(o))
		for i, rec := range o {
			out[i] = mapRecord(mapping, rec)
		}
		return out
	case map[string]any:
		for _, k := range []string{"results", "items", "data", "records"} {
			if arr, ok := o[k].([]any); ok {
				return ApplyMapping(mapping, arr)
			}
		}
		return mapRecord(mapping, o)
	}
	return output
}

func mapRecord(mapping map[string]any, rec any) any {
	d := Data{}
	if m, ok := rec.(map[string]any); ok {
		d = Data(m)
	}
	out := map[string]any{}
	for field, tmpl := range mapping {
		v, err := d.Render(tmpl, nil)
		if err != nil {
			v = nil
		}
		out[field] = v
	}
	return out
}
