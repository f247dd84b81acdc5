#!/usr/bin/env bash
# The main job, end to end, with real parts: a project, its devpi-server (production
# settings), users, the staged indexes, packages published to the first stage, a
# workspace with a lib and a task packl, a CG mini-production (assets, products, a task
# and its render), a new rig flowing down to a new render, and installs from the project
# index with plain pip.
# Run it with `make demo`.
#
# Everything happens in a temporary folder that is removed at the end. PIPL_DEMO_KEEP=1
# keeps it, with the server, the runner and the web dashboard running.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/pipl-demo.XXXXXX")
export PIPL_PROJECT="$work/demo"
export XDG_CONFIG_HOME="$work/config"   # login tokens of this demo stay in the demo
port=$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
simple="http://127.0.0.1:$port/demo/dev/+simple/"

cleanup() {
    if [ "${PIPL_DEMO_KEEP:-0}" = 1 ]; then
        echo "kept: $work (still running; stop it with: PIPL_PROJECT=$PIPL_PROJECT pipl proj stop)"
    else
        pipl proj stop >/dev/null 2>&1 || true
        rm -rf "$work"
    fi
}
trap cleanup EXIT

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; local t0=$SECONDS; "$@"; echo "   [$((SECONDS - t0))s]"; }
# a command that must be refused (non-zero exit); the demo stops if it is not
refused() { printf '\n\033[1m$ %s\033[0m   (refused, as it should be)\n' "$*"; if "$@"; then echo "not refused: $*"; exit 1; fi; }
secret() { python -c 'import secrets; print(secrets.token_urlsafe(16))'; }

echo "== 1. a project and its server"
step pipl proj create "$PIPL_PROJECT" --port "$port"
step pipl proj start --detach

echo "== 2. users and the staged indexes (pipl-pipe and the build backend go on the base)"
step pipl proj index create-default
alice_pw=$(secret)
printf '%s\n' "$alice_pw" | step pipl proj user add alice --email alice@studio.example --password-stdin
step pipl proj user list

echo "== 3. alice publishes a package to the first stage"
step uv build --quiet --wheel --no-build-isolation --python "$(command -v python)" \
    -o "$work/dist" "$here/hello"
printf '%s\n' "$alice_pw" | step pipl proj login alice --password-stdin
step pipl proj index upload "$work"/dist/*.whl
step pipl proj index upload "$work"/dist/*.whl      # identical: skipped

echo "== 4. alice's workspace: a lib packl and a task packl that depends on it"
step pipl work create anim
step pipl packl create shotlib --kind lib -w anim --description "Shot helpers"
step pipl packl publish --packl shotlib -w anim
step pipl packl create shot-010 --kind task -w anim --description "Shot 010 animation"
step pipl packl add "shotlib>=0.1" --packl shot-010 -w anim
step pipl packl bump minor --packl shot-010 -w anim
step pipl packl show --packl shot-010 -w anim
step pipl work commands -w anim
step pipl work run -w anim -- shot-010-info
step pipl packl publish --packl shot-010 -w anim
step pipl proj logout

echo "== 5. CI checks alice's releases on dev by itself (wheel, QA); the gate of qa lets in"
echo "      what passed QA with tests; hello-pipl, a wheel with no tests, has QA 'none': it stays"
step pipl ci wait --timeout 600
step pipl ci list --packl hello-pipl
refused pipl proj index push hello-pipl 1.0.0 --to qa   # the owner's push asks the same gate
step pipl proj index show qa
echo "   on qa, processing runs first; the gate of prod then needs an approval by someone"
echo "   other than the uploader: the owner approves alice's releases, and CI moves them on"
step pipl ci list --packl shot-010
step pipl proj index review approve shotlib 0.1.0 --stage qa --comment "API looks right"
step pipl proj index review approve shot-010 0.2.0 --stage qa --comment "checked the shot"
step pipl ci wait --timeout 600
step pipl proj index reviews shot-010 0.2.0 --stage qa
step pipl proj index show prod

echo "== 6. plain pip installs from the project index into fresh environments"
step python -m venv "$work/env"
PIP_CONFIG_FILE=/dev/null step "$work/env/bin/pip" install --quiet --disable-pip-version-check \
    --index-url "$simple" hello-pipl shot-010
step "$work/env/bin/hello-pipl"
step "$work/env/bin/shot-010-info"

echo "== 7. a CG mini-production: assets by hash, model and rig products, a shot task,"
echo "      its render published as a product and installed with plain pip"
step python "$here/cg/run.py"
step pipl work env -w cg
step pipl asset ls
step pipl asset verify
step pipl asset gc --dry-run

echo "== 8. CI on upload: the runner (started by 'proj start') checks every release on dev:"
echo "      wheel, QA (tox), promotion to qa; on qa, processing, whose products stay beside"
echo "      the release until an approval moves both to prod. A new version of the shot task:"
step pipl ci wait --timeout 600
step pipl packl bump minor --packl shot-010-anim -w cg
step pipl packl publish --packl shot-010-anim -w cg
step pipl ci wait --timeout 600
step pipl ci list --packl shot-010-anim
PIP_CONFIG_FILE=/dev/null step "$work/env/bin/pip" install --quiet --disable-pip-version-check \
    --index-url "http://127.0.0.1:$port/demo/qa/+simple/" "shot-010-anim-render==0.2.0"
step pipl ci list --state failed
echo "   what was made from the task release, and withdrawing a bad product: pip and uv skip a"
echo "   yanked release unless it is pinned, CI neither promotes nor processes it"
step pipl proj index derived shot-010-anim 0.2.0
step pipl proj index yank shot-010-anim-render 0.2.0 --stage qa --reason "rendered with the wrong rig"
step pipl proj index yank shot-010-anim-render 0.2.0 --stage qa --undo

echo "== 9. the same from Python with pipl.Client (examples/publish_and_install.py): a new"
echo "      version is published, its CI jobs waited for, its product installed with pip"
step pipl packl bump minor --packl shot-010-anim -w cg
mapfile -t dists < <(pipl packl build --packl shot-010-anim -w cg | grep -v '^Built ')
step python "$here/publish_and_install.py" "$PIPL_PROJECT" shot-010-anim 0.3.0 \
    "$work/env/bin/pip" "${dists[@]}"
step "$work/env/bin/pip" show --disable-pip-version-check shot-010-anim-render

echo "== 10. data flows downstream: the shot task requires 'chair-rig>=1.0' (a range, not a pin),"
echo "      so a new rig reaches its render by itself. chair-rig 1.1.0, a product packl, goes to"
echo "      dev; it has no tests, but its QA is earned, not 'none': pipl's kind contract of a"
echo "      product ([qa] contracts, on by default) checks that it imports and its manifest"
echo "      holds, so the gate of qa lets it in like any release that passed QA. On qa, CI"
echo "      re-processes the task's latest release (0.3.0) with the new rig: its render comes"
echo "      out as shot-010-anim-render 0.3.0.post1, pinned to chair-rig 1.1.0"
step python "$here/cg/run.py" rig 1.1.0
step pipl ci wait --timeout 600
step pipl ci list --packl chair-rig
step pipl ci list --packl shot-010-anim-render
echo "   what was made from the new rig, and the render installed from qa with plain pip:"
step pipl proj index derived chair-rig 1.1.0
PIP_CONFIG_FILE=/dev/null step "$work/env/bin/pip" install --quiet --disable-pip-version-check \
    --index-url "http://127.0.0.1:$port/demo/qa/+simple/" "shot-010-anim-render==0.3.0.post1"
step "$work/env/bin/python" -c "from pipl_pipe.products import get_product
p = get_product('shot-010-anim-render')
print(p.name, p.version, 'sources:', ' '.join(p.sources))"

echo "== 11. the project's state; the runner also serves the web dashboard and HTTP API"
step pipl proj status
step pipl proj index show dev
echo
echo "Demo finished: project, server, users, stages, workspace, packls, publish, promote,"
echo "assets, products, tasks, envsets, CI on upload, data flowing downstream and pip install"
echo "all worked."
# the dashboard's address only while something answers there: without PIPL_DEMO_KEEP=1,
# the server and the runner that serves the dashboard stop as the demo exits
if [ "${PIPL_DEMO_KEEP:-0}" = 1 ]; then
    echo "Dashboard: $(pipl proj web --no-browser) (open until 'pipl proj stop')"
else
    echo "The server, the runner and its dashboard stop now, with the demo's folder;"
    echo "PIPL_DEMO_KEEP=1 make demo keeps them running and prints the dashboard's address."
fi
