#!/bin/sh
# normalize.sh rebuilds the expected golden files of encoder_test.go from the
# seed documents (Outlook v2.0 and beta, SharePoint, UCWA), independently of
# the encoder: it cuts each sample batch out of its seed by line number and
# applies only the normalisations listed below. Run it from anywhere; SEEDS
# points at the seed directory (default /work/shared/seeds).
#
# Every file: LF line ends become CRLF; the outer HTTP request line, its
# headers and any preamble are left out (the golden file is the batch body);
# exactly one CRLF follows the close delimiter (the seeds' epilogue lines,
# such as the " " line after Outlook beta's close delimiter, are dropped).
#
# Per file, where the seed departs from what the writer must do (see the Encoder's doc):
#  - A bodiless request (Outlook's GET events, SharePoint's GET items, both
#    UCWA GETs) gets the blank line that ends its header block: read by RFC
#    2046, the seed's single blank line before the next delimiter is that
#    delimiter's CRLF, and Dynamics rejects that layout.
#  - Outlook v2.0 response: "OData-Version" is written canonically as
#    "Odata-Version"; the bodiless 202 gets its blank line too.
#  - SharePoint: the changeset boundary parameter is unquoted (RFC 2045 does
#    not require quotes for it, and SAP CAP finds no boundary in a quoted
#    one); "Content-Length: [size in bytes of the changeset]" holds the real
#    size; the stray blank line between the second POST's request line and
#    its Content-Type header is dropped, so the header is a header (in the
#    seed it would be body text); the page is cut off before "Put it all
#    together", so the close delimiter of the batch is added after the
#    changeset, as the text describes it.
set -eu
S=${SEEDS:-/work/shared/seeds}
cd "$(dirname "$0")"
crlf() { sed 's/$/\r/'; }

# Outlook REST v2.0 request (004): lines 43-73, blank line 48 doubled.
sed -n '43,73p; 48p' "$S"/004_*.txt | crlf >outlook_v2.batch

# Outlook REST beta request (002): lines 46-76, blank line 51 doubled.
sed -n '46,76p; 51p' "$S"/002_*.txt | crlf >outlook_beta.batch

# UCWA request (003): lines 32-46, blank lines 38 and 45 doubled.
sed -n '32,46p; 38p; 45p' "$S"/003_*.txt | crlf >ucwa.batch

# Outlook REST v2.0 response (004): lines 87-130, blank line 129 doubled.
sed -n '87,130p; 129p' "$S"/004_*.txt | sed 's/^OData-Version:/Odata-Version:/' | crlf >outlook_v2_response.batch

# SharePoint request with a changeset (001).
f=$(ls "$S"/001_*.txt)
cs=$(mktemp)
{ sed -n '78,91p' "$f"; sed -n '93,97p' "$f"; } | crlf >"$cs"
len=$(( $(wc -c <"$cs") - 2 )) # the CRLF after the changeset's close delimiter belongs to the batch delimiter
{
	sed -n '52,59p; 59p' "$f" | crlf
	sed -n '68,70p' "$f" | sed 's/boundary="\(.*\)"$/boundary=\1/' | crlf
	printf 'Content-Length: %d\r\n' "$len"
	sed -n '72,73p' "$f" | crlf
	cat "$cs"
	printf -- '--batch_45473b4e-5ce5-409d-dd5a-3d60082df906--\r\n'
} >sharepoint.batch
rm -f "$cs"
