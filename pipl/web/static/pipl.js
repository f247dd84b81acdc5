// pipl dashboard: the little script there is. Follows a running job's log by polling the
// API with an offset (a dropped connection costs the server nothing).
"use strict";

function followLog(pre) {
  const url = pre.dataset.follow;
  let offset = Number(pre.dataset.offset || 0);
  const state = document.getElementById("job-state");
  async function poll() {
    let answer;
    try {
      const response = await fetch(`${url}?offset=${offset}`, {credentials: "same-origin"});
      answer = (await response.json()).result;
      if (!answer) throw new Error("no result");
    } catch (e) {
      setTimeout(poll, 2000);
      return;
    }
    if (answer.text) {
      const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(answer.text);
      if (atBottom) pre.scrollTop = pre.scrollHeight;
    }
    offset = answer.offset;
    if (state && answer.state) { state.textContent = answer.state; state.className = `state ${answer.state}`; }
    // more of the log is there already: read on at once; else look again shortly
    if (!answer.done) setTimeout(poll, answer.offset < answer.size ? 0 : 500);
    else pre.dataset.done = "1";
  }
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("pre[data-follow]").forEach(followLog);
});
