// One render per animation frame, none while the tab is hidden. Updates only mark what they
// changed; the page is drawn at most once per frame, whatever the number of events that came
// in, and not at all in a hidden tab, which catches up in one frame when it is shown again.

/** Returns `request()`: asks for `draw()` in the next frame in which the page is visible. */
export function frameScheduler(draw) {
  let queued = false;
  let wanted = false;
  const visible = () => document.visibilityState === 'visible';
  const run = () => {
    queued = false;
    if (!visible()) return;
    wanted = false;
    draw();
  };
  const request = () => {
    wanted = true;
    if (queued || !visible()) return;
    queued = true;
    requestAnimationFrame(run);
  };
  document.addEventListener('visibilitychange', () => {
    if (wanted) request();
  });
  return request;
}
