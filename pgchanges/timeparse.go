package pgchanges

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// text is the input of the date and time parsers: a string or the bytes of one.
type text interface{ ~string | ~[]byte }

// parseTimestamp parses the date/time forms PostgreSQL and the Realtime server write:
//
//	2026-08-21T10:15:30.123Z           commit_timestamp
//	2026-08-21T10:15:38Z               commit_timestamp of older servers
//	2026-08-21T10:15:30.118532         timestamp (JSON)
//	2026-08-21T10:15:30.118532+00:00   timestamptz (JSON)
//	2026-08-21 10:15:30.118532+00      the text forms inside array and range literals
//	2026-08-21                         date
//
// with an optional " BC" suffix. A value without zone is taken as UTC. The result is in UTC;
// zone reports whether the input had an offset. It does not allocate.
func parseTimestamp[T text](s T) (t time.Time, zone bool, ok bool) {
	bc := len(s) >= 3 && string(s[len(s)-3:]) == " BC"
	if bc {
		s = s[:len(s)-3]
	}
	y := 4 // years have at least four digits and at most seven (dates reach 5874897, timestamps 294276)
	for y < len(s) && y < 7 && isDigit(s[y]) {
		y++
	}
	if len(s) < y+6 || s[y] != '-' || s[y+3] != '-' {
		return time.Time{}, false, false
	}
	year, ok1 := digits(s[0:y])
	month, ok2 := digits(s[y+1 : y+3])
	day, ok3 := digits(s[y+4 : y+6])
	if bc {
		// PostgreSQL counts 1 BC, 2 BC, …; Go (astronomical numbering) 0, -1, …
		year = 1 - year
		ok1 = ok1 && year < 1
	}
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return time.Time{}, false, false
	}
	s = s[y+6:]
	if len(s) == 0 {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC), false, true
	}
	if s[0] != 'T' && s[0] != ' ' {
		return time.Time{}, false, false
	}
	s = s[1:]
	tod, n, ok := parseClock(s)
	if !ok {
		return time.Time{}, false, false
	}
	offset, zone, ok := parseZone(s[n:])
	if !ok {
		return time.Time{}, false, false
	}
	t = time.Date(year, time.Month(month), day, tod.Hour, tod.Minute, tod.Second, tod.Nanosecond, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), zone, true
}

// parseClock parses HH:MM[:SS[.fraction]] at the start of s and returns how many bytes it used.
// Hour 24 is allowed only as 24:00:00.
func parseClock[T text](s T) (tod TimeOfDay, n int, ok bool) {
	if len(s) < 5 || s[2] != ':' {
		return tod, 0, false
	}
	h, ok1 := digits(s[0:2])
	m, ok2 := digits(s[3:5])
	if !ok1 || !ok2 || h > 24 || m > 59 {
		return tod, 0, false
	}
	tod.Hour, tod.Minute, n = h, m, 5
	if len(s) >= 8 && s[5] == ':' {
		sec, ok := digits(s[6:8])
		if !ok || sec > 59 {
			return tod, 0, false
		}
		tod.Second, n = sec, 8
		if len(s) > 9 && s[8] == '.' && isDigit(s[9]) {
			n = 9
			scale := 100_000_000
			for n < len(s) && isDigit(s[n]) {
				tod.Nanosecond += int(s[n]-'0') * scale
				scale /= 10
				n++
			}
		}
	}
	if h == 24 && (m != 0 || tod.Second != 0 || tod.Nanosecond != 0) {
		return tod, 0, false
	}
	return tod, n, true
}

// parseZone parses what follows a clock: nothing, "Z", or ±HH[[:]MM[[:]SS]]. It returns the
// offset in seconds east of UTC.
func parseZone[T text](s T) (offset int, zone bool, ok bool) {
	if len(s) == 0 {
		return 0, false, true
	}
	if len(s) == 1 && (s[0] == 'Z' || s[0] == 'z') {
		return 0, true, true
	}
	sign := 1
	switch s[0] {
	case '+':
	case '-':
		sign = -1
	default:
		return 0, false, false
	}
	s = s[1:]
	var parts [3]int
	for i := range parts {
		if len(s) == 0 && i > 0 {
			break
		}
		if i > 0 && s[0] == ':' {
			s = s[1:]
		}
		if len(s) < 2 {
			return 0, false, false
		}
		v, ok := digits(s[0:2])
		if !ok || (i > 0 && v > 59) {
			return 0, false, false
		}
		parts[i] = v
		s = s[2:]
	}
	if len(s) != 0 || parts[0] > 15 {
		return 0, false, false
	}
	return sign * (parts[0]*3600 + parts[1]*60 + parts[2]), true, true
}

// digits parses a run of ASCII digits.
func digits[T text](s T) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

// daysIn returns the number of days in a month of the proleptic Gregorian calendar.
func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// isInfinity reports whether s is one of PostgreSQL's infinite date/time values.
func isInfinity(s string) bool {
	return s == "infinity" || s == "-infinity"
}

// TimeOfDay is a PostgreSQL time or timetz value: a wall-clock time with microsecond
// precision and, for timetz, a zone offset. Hour is 24 only for 24:00:00, which PostgreSQL
// allows.
type TimeOfDay struct {
	// Hour, Minute, Second and Nanosecond are the wall-clock time.
	Hour, Minute, Second, Nanosecond int
	Offset                           int  // zone offset in seconds east of UTC; set for timetz
	HasOffset                        bool // whether the value carries a zone (timetz)
}

// ParseTimeOfDay parses a time ("10:15:30.123456") or timetz ("10:15:30+02:00", "10:15:30+02",
// "10:15:30Z") value.
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	t, err := parseTimeOfDay(s)
	return t, wrapSyntax(err)
}

// parseTimeOfDay is ParseTimeOfDay with an unwrapped error.
func parseTimeOfDay(s string) (TimeOfDay, error) {
	tod, n, ok := parseClock(s)
	if ok {
		var offset int
		var zone bool
		offset, zone, ok = parseZone(s[n:])
		tod.Offset, tod.HasOffset = offset, zone
	}
	if !ok {
		return TimeOfDay{}, fmt.Errorf("invalid time of day %.64q", s)
	}
	return tod, nil
}

// String formats t as PostgreSQL writes it: "10:15:30", "10:15:30.5", "10:15:30+02",
// "10:15:30-05:30", "10:15:30+02:30:15" (the offset's minutes and seconds only when not zero).
func (t TimeOfDay) String() string {
	b := make([]byte, 0, 24)
	b = append2(b, t.Hour)
	b = append(b, ':')
	b = append2(b, t.Minute)
	b = append(b, ':')
	b = append2(b, t.Second)
	if t.Nanosecond != 0 {
		frac := strconv.Itoa(1_000_000_000 + t.Nanosecond)[1:]
		b = append(b, '.')
		b = append(b, strings.TrimRight(frac, "0")...)
	}
	if t.HasOffset {
		off := t.Offset
		sign := byte('+')
		if off < 0 {
			sign, off = '-', -off
		}
		b = append(b, sign)
		b = append2(b, off/3600)
		if off%3600 != 0 {
			b = append(b, ':')
			b = append2(b, off/60%60)
		}
		if off%60 != 0 {
			b = append(b, ':')
			b = append2(b, off%60)
		}
	}
	return string(b)
}

// Duration returns the time since midnight, ignoring the offset.
func (t TimeOfDay) Duration() time.Duration {
	return time.Duration(t.Hour)*time.Hour + time.Duration(t.Minute)*time.Minute +
		time.Duration(t.Second)*time.Second + time.Duration(t.Nanosecond)
}

// MarshalJSON writes t as a JSON string (see String).
func (t TimeOfDay) MarshalJSON() ([]byte, error) {
	return appendJSONString(nil, t.String()), nil
}

// UnmarshalJSON reads a JSON string with a time or timetz value; null leaves t unchanged.
func (t *TimeOfDay) UnmarshalJSON(b []byte) error {
	s, isNull, err := jsonStringArg(b)
	if err != nil || isNull {
		return err
	}
	v, err := ParseTimeOfDay(s)
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// append2 appends n with at least two digits.
func append2(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// jsonStringArg decodes the argument of an UnmarshalJSON that wants a string.
func jsonStringArg(b []byte) (s string, isNull bool, err error) {
	sc := scanner{data: b}
	if sc.null() {
		return "", true, sc.end()
	}
	s, err = sc.stringValue()
	if err == nil {
		err = sc.end()
	}
	if err != nil {
		return "", false, malformed("want a JSON string, got %.40q", b)
	}
	return s, false, nil
}
