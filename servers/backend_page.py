"""The backend's web page: the seed's "Optimize Laptop Supply Chain" UI in one file.

Plain HTML and a few lines of JavaScript against the job API: start a job, poll its
progress, open the PS consent page when consent is needed, show the result and the
decoded auth tokens.  Element ids are stable so browser tests can drive the page.  The
inline script and stylesheet are allowed by their hashes in each page's content security
policy (:func:`~aauth_kit.asgi.content_security_policy`); nothing else inline runs.
"""

from aauth_kit.asgi import content_security_policy

_INDEX_STYLE = """
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; }
  button { font-size: 1.1rem; padding: .5rem 1rem; }
  #status { font-weight: bold; }
  .box { border: 1px solid #999; border-radius: .4rem; padding: .8rem; margin: .8rem 0; }
  pre { white-space: pre-wrap; word-break: break-all; font-size: .8rem; }
  code.code { font-size: 1.3rem; letter-spacing: .1rem; }
"""

_INDEX_SCRIPT = """
const $ = (id) => document.getElementById(id);
let timer = null;

async function poll(id) {
  const progress = await (await fetch(`optimization/progress/${id}`)).json();
  $("status").textContent = progress.status;
  $("step").textContent = progress.current_step || "";
  $("consent").hidden = progress.status !== "interaction_required";
  if (progress.status === "interaction_required") {
    $("code").textContent = progress.interaction_code;
    $("consent-link").href = progress.interaction_url;
  }
  if (progress.status === "completed") {
    clearInterval(timer);
    const result = await (await fetch(`optimization/results/${id}`)).json();
    $("summary").textContent = result.summary;
    $("recommendations").replaceChildren(...result.recommendations.map((text) => {
      const li = document.createElement("li"); li.textContent = text; return li;
    }));
    if (result.market_analysis) {
      $("market-analysis").hidden = false;
      $("market-summary").textContent = result.market_analysis.summary;
    }
    $("authorizations").textContent = JSON.stringify(result.authorizations, null, 2);
    $("result").hidden = false;
  }
  if (progress.status === "failed") {
    clearInterval(timer);
    $("error").textContent = progress.error;
    $("failure").hidden = false;
  }
}

$("optimize").addEventListener("click", async () => {
  for (const id of ["result", "failure", "consent"]) $(id).hidden = true;
  const prompt = $("market").checked
    ? "Optimize laptop supply chain with market analysis"
    : "Optimize laptop supply chain";
  const response = await fetch("optimization/start", {
    method: "POST", headers: {"content-type": "application/json"},
    body: JSON.stringify({custom_prompt: prompt}),
  });
  const started = await response.json();
  clearInterval(timer);
  timer = setInterval(() => poll(started.request_id), 300);
});
"""

INDEX_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Backend agent — laptop supply chain</title>
<style>{_INDEX_STYLE}</style>
</head>
<body>
<h1>Laptop supply chain</h1>
<p>This page is the backend agent's UI. The button starts a job; the backend calls the
supply-chain agent with AAuth and, if the Person Server asks for your consent, shows you
where to give it.</p>
<label><input type="checkbox" id="market"> include market analysis</label>
<p><button id="optimize">Optimize Laptop Supply Chain</button></p>
<div class="box">Status: <span id="status">idle</span> — <span id="step"></span></div>
<div class="box" id="consent" hidden>
  <p>The Person Server needs your consent. Code: <code class="code" id="code"></code></p>
  <p><a id="consent-link" target="_blank" rel="opener">Open the consent page</a></p>
</div>
<div class="box" id="result" hidden>
  <h2>Result</h2>
  <p id="summary"></p>
  <ol id="recommendations"></ol>
  <div id="market-analysis" hidden><h3>Market analysis</h3><p id="market-summary"></p></div>
  <h3>Authorizations</h3>
  <pre id="authorizations"></pre>
</div>
<div class="box" id="failure" hidden>Failed: <span id="error"></span></div>
<script>{_INDEX_SCRIPT}</script>
</body>
</html>
"""
INDEX_CSP = content_security_policy(scripts=(_INDEX_SCRIPT,), styles=(_INDEX_STYLE,))

_CALLBACK_SCRIPT = """
  const error = new URLSearchParams(location.search).get("error");
  if (error) document.getElementById("message").textContent = `The Person Server reported: ${error}.`;
  if (window.opener) setTimeout(() => window.close(), 1500);
"""

CALLBACK_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Consent recorded</title></head>
<body>
<p id="message">Your answer reached the Person Server. You can close this window and return to the backend page.</p>
<script>{_CALLBACK_SCRIPT}</script>
</body></html>
"""
CALLBACK_CSP = content_security_policy(scripts=(_CALLBACK_SCRIPT,))
