// The labeling page's keys: 1-9 pick a class, u undoes, s skips. Each key clicks the button
// that carries it (data-key), so the keyboard and the mouse send the very same form. Keys
// typed into the note field are the note's.
document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
  const target = event.target;
  if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement) return;
  const button = document.querySelector(`#labeler [data-key="${CSS.escape(event.key)}"]`);
  if (button) {
    event.preventDefault();
    button.click();
  }
});
