package config

import (
	"fmt"
	"strings"
)

// usageText starts the help; the options' lines follow, from the table.
// Every line is kept under 100 columns so it reads in a terminal and in the
// DWC log view without wrapping.
const usageText = `Options come from the command line and from the config file named by -file, which holds the same
options, normally one per line ("-port 8090"). In a file, "-# text" and anything after a # that
starts a word are comments ("-port 8090  # the HTTP port"); a # inside a word or in quotes is kept.
Values may be quoted with ' or "; -option=value and --option work too. A value that starts with -
(other than a negative number such as -1) must be written -option=-value.

Precedence: the file is read where -file appears on the command line, so a command-line option
after -file overrides the file (usbStream -file usbStream.config -port 9000) and one before -file
is overridden by it. An option may be given once in the file and once on the command line.
Relative paths in the file are relative to the file's folder.

`

// Usage returns the option reference that -h prints.
func Usage() string {
	var b strings.Builder
	b.WriteString(usageText)
	b.WriteString("Options of the original usbStream:\n")
	writeOptions(&b, true)
	b.WriteString("\nNew options:\n")
	writeOptions(&b, false)
	b.WriteString("\n")
	b.WriteString("Size table for -size:")
	for i, r := range SizeTable {
		sep := ","
		switch {
		case i == 0:
			sep = ""
		case i == 5:
			sep = ",\n "
		}
		fmt.Fprintf(&b, "%s %d = %s", sep, i, r)
	}
	b.WriteString("\n(2 = 1920x1800 exists on no camera, so it gives 1920x1080 on real ones.)\n")
	return b.String()
}

// helpColumn is where the options' descriptions start.
const helpColumn = 21

// writeOptions writes the help lines of the original's options, or of the
// new ones, in the table's order.
func writeOptions(b *strings.Builder, original bool) {
	for _, o := range options {
		if o.original != original || aliased(o) {
			continue
		}
		names := "-" + o.name
		if o.alias != "" {
			names += ", -" + o.alias
		}
		if o.arg != "" {
			names += " " + o.arg
		}
		indent := strings.Repeat(" ", helpColumn)
		fmt.Fprintf(b, "  %-*s %s\n", helpColumn-3, names, strings.ReplaceAll(o.help, "\n", "\n"+indent))
	}
}

// aliased reports whether another option's help line names o.
func aliased(o *option) bool {
	for _, other := range options {
		if other.alias == o.name {
			return true
		}
	}
	return false
}
