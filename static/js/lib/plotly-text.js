// Text for Plotly: it reads <tags> (links, bold, line breaks) and &entities; in every label, name,
// tick and hover text it draws, so anything a user named goes through plotlyText first.

/** Give text Plotly shows as it is: "<b>x</b> & y" -> "&lt;b&gt;x&lt;/b&gt; &amp; y". */
export function plotlyText(text) {
  return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
