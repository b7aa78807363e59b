package stats

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// AppendJavaDouble appends v as Java's Double.toString writes it: "0.0"
// for zero, the shortest decimal with at least one fraction digit between
// 10^-3 and 10^7, computerized scientific notation ("1.0E7") outside.
// RocketMQ's tools parse these strings with Double.parseDouble.
func AppendJavaDouble(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "Infinity"...)
	case math.IsInf(v, -1):
		return append(b, "-Infinity"...)
	case v == 0:
		if math.Signbit(v) {
			return append(b, "-0.0"...)
		}
		return append(b, "0.0"...)
	}
	a := math.Abs(v)
	if a >= 1e-3 && a < 1e7 {
		start := len(b)
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
		if !strings.Contains(string(b[start:]), ".") {
			b = append(b, ".0"...)
		}
		return b
	}
	// Go: "1.2345E+07"; Java: "1.2345E7", and "1.0E-4" for a bare digit.
	s := strconv.FormatFloat(v, 'E', -1, 64)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	b = append(b, mant...)
	b = append(b, 'E')
	return strconv.AppendInt(b, int64(e), 10)
}

// FormatRuntime is StoreStatsService#getFormatRuntime: the time since
// boot as "[ 0 days, 1 hours, 2 minutes, 3 seconds ]" (Java's
// MessageFormat groups thousands, which a day count never reaches).
func FormatRuntime(d time.Duration) string {
	ms := d.Milliseconds()
	const second, minute, hour, day = 1000, 60 * 1000, 3600 * 1000, 24 * 3600 * 1000
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return "[ " + i(ms/day) + " days, " + i(ms%day/hour) + " hours, " + i(ms%hour/minute) + " minutes, " + i(ms%minute/second) + " seconds ]"
}
