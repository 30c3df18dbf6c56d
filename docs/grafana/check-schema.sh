#!/bin/sh
# Type-checks indexer.json against Grafana's own dashboard schema: the
# TypeScript types of the npm package @grafana/schema (the classic JSON
# model, raw/dashboard/x), with the TypeScript compiler. An unknown field,
# a wrong type or a missing required one fails. Needs npm; `go test
# ./cmd/...` checks, without it, that every panel's query names a metric
# the programs expose.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent @grafana/schema@13.2.3 >/dev/null
tar xzf grafana-schema-13.2.3.tgz
npm install --silent --no-audit --no-fund typescript@5 >/dev/null
{
	echo 'import { Dashboard, MappingType, ThresholdsMode } from "./package/dist/types/raw/dashboard/x/types.gen";'
	printf 'const d: Dashboard = '
	# The schema's enums are TypeScript enums: name them for their values.
	sed 's/"type": "value"/"type": MappingType.ValueToText/; s/"mode": "absolute"/"mode": ThresholdsMode.Absolute/' "$here/indexer.json"
	echo ';'
	echo 'export default d;'
} >check.ts
node_modules/.bin/tsc --noEmit --strict --target es2020 --moduleResolution node check.ts
echo "indexer.json matches @grafana/schema 13.2.3's Dashboard"
