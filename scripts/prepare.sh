# Sourced: Node on PATH, dependencies installed, TypeScript built when sources changed.
. "$(dirname "${BASH_SOURCE:-$0}")/ensure-node.sh"
cd "$samsa_root"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "samsa: installing dependencies" >&2
  # install, not ci: see .ci/run. It follows package-lock.json.
  npm install --no-audit --no-fund --loglevel=error >&2
fi
if [ ! -f dist/broker/main.js ] || [ -n "$(find broker tsconfig.json -newer dist/broker/main.js \( -name '*.ts' -o -name tsconfig.json \) -print 2>/dev/null | head -n 1)" ]; then
  echo "samsa: building" >&2
  npx tsc -p tsconfig.json
fi
