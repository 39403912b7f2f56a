// The labeling page's keys: 1-9 pick a class, u undoes, s skips. Each key clicks the button
// that carries it (data-key), so the keyboard and the mouse send the very same form. Keys
// typed into the note field are the note's.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  const labeler = document.querySelector("#labeler");
  const button = labeler && labeler.querySelector(`[data-key="${CSS.escape(event.key)}"]`);
  if (!button) return;
  event.preventDefault();
  // htmx wires a swapped-in item's forms only when it settles (tens of ms later): a key
  // pressed before then would have the browser post the form and leave the page
  if (window.htmx) window.htmx.process(labeler);
  button.click();
});
