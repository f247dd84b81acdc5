"""Publish a packl's files, wait for everything CI does with them, install its products."""

import subprocess
import sys

from pipl import Client

project, name, version, pip, *files = sys.argv[1:]
with Client.from_project(project) as client:  # remotely: Client(URL, token=TOKEN)
    for upload in client.releases.upload(files, stage="dev"):
        print("uploaded", upload.filename, "to", upload.index)
    done = client.wait(name, version, timeout=600)  # the products' jobs included
    print(len(done.jobs), "CI jobs:", "all passed" if done.ok else "NOT all passed")
    url = client.health().url
for made in (r for r in done.releases if r.project != name):
    print("installing", made.project, made.version, "from", made.index)
    spec, simple = f"{made.project}=={made.version}", f"{url}/{made.index}/+simple/"
    subprocess.run([pip, "install", "-q", "--index-url", simple, spec], check=True)
sys.exit(0 if done.ok else 1)
