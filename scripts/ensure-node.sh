# Sourced by the other scripts: puts Node >= 22.12 first on PATH. When the machine's Node is
# older (or missing), installs the node@24 npm package into .tools/ once and uses that.
samsa_root=$(cd "$(dirname "${BASH_SOURCE:-$0}")/.." 2>/dev/null && pwd)
[ -n "$samsa_root" ] && [ -f "$samsa_root/package.json" ] || samsa_root=$(pwd)

samsa_node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)'
}

if ! samsa_node_ok; then
  samsa_tools="$samsa_root/.tools"
  if [ ! -x "$samsa_tools/node_modules/node/bin/node" ]; then
    echo "samsa: Node >= 22.12 needed; installing node@24 into .tools/" >&2
    mkdir -p "$samsa_tools"
    [ -f "$samsa_tools/package.json" ] || echo '{"name":"samsa-tools","private":true}' > "$samsa_tools/package.json"
    (cd "$samsa_tools" && npm install --no-audit --no-fund --loglevel=error node@24 >&2)
  fi
  PATH="$samsa_tools/node_modules/node/bin:$PATH"
  export PATH
  samsa_node_ok || { echo "samsa: could not provide Node >= 22.12" >&2; exit 1; }
fi
