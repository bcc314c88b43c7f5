// The Teach tab's canvas (ui/teach_canvas.py), loaded once with the page (ui/app.py HEAD).
//
// A plain <canvas>, drawn here, so that "Add" can take the drawing in the very moment of the click:
// take() copies the canvas into a PNG and empties it synchronously, in the click's own capture phase,
// before the next pointer event can land, and the add event (ui/teach_tab.py) sends that PNG through
// its js hook (collect()). Saving then happens behind the person's back: the canvas is never veiled,
// reset or redrawn under the pen, and a drawing begun at once goes on the fresh canvas, never merged
// into the one on its way to the server.
// (Gradio's image editor composes its value asynchronously, and its Clear too: quick hands lost
// drawings, issue 36.) Events are delegated from the document, so a re-rendered canvas still works.
window.cnnTeach = (() => {
  const SIDE = 420;  // the drawing's pixels (the canvas is shown smaller on a phone)
  const BRUSH = 18;  // px of SIDE: a pen stroke as thick as the digit model's training strokes
  const pads = new WeakMap();  // canvas -> {strokes: [[x, y], ...][], pointer}
  const find = (e) => e.target.closest?.('#teach-sketch canvas');
  const canvasNow = () => document.querySelector('#teach-sketch canvas');
  let saving = 0;
  let look = null;

  function pad(canvas) {
    if (!pads.has(canvas)) pads.set(canvas, { strokes: [], pointer: null });
    return pads.get(canvas);
  }

  function at(canvas, e) {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) * SIDE / r.width, (e.clientY - r.top) * SIDE / r.height];
  }

  function paint(canvas, stroke, from) {  // stroke[from-1..] onto the canvas (a dot for one point)
    const g = canvas.getContext('2d');
    Object.assign(g, { lineWidth: BRUSH, lineCap: 'round', lineJoin: 'round', strokeStyle: '#000', fillStyle: '#000' });
    if (stroke.length === 1) {
      g.beginPath();
      g.arc(stroke[0][0], stroke[0][1], BRUSH / 2, 0, 2 * Math.PI);
      g.fill();
      return;
    }
    g.beginPath();
    g.moveTo(...stroke[Math.max(from - 1, 0)]);
    for (let i = Math.max(from, 1); i < stroke.length; i++) g.lineTo(...stroke[i]);
    g.stroke();
  }

  function redraw(canvas) {
    canvas.getContext('2d').clearRect(0, 0, SIDE, SIDE);
    for (const s of pad(canvas).strokes) paint(canvas, s, 0);
  }

  function lookSoon() {  // what the model sees, once the hand rests (a hidden button asks the server)
    clearTimeout(look);
    look = setTimeout(() => document.querySelector('#teach-look')?.click(), 250);
  }

  document.addEventListener('pointerdown', (e) => {
    const canvas = find(e);
    if (!canvas || e.button > 0) return;
    e.preventDefault();
    canvas.setPointerCapture?.(e.pointerId);
    const p = pad(canvas);
    const stroke = [at(canvas, e)];
    p.strokes.push(stroke);
    p.pointer = { id: e.pointerId, stroke };
    paint(canvas, stroke, 0);
  });

  document.addEventListener('pointermove', (e) => {
    const canvas = find(e);
    const p = canvas && pad(canvas);
    if (!p?.pointer || p.pointer.id !== e.pointerId) return;
    const stroke = p.pointer.stroke;
    const from = stroke.length;
    for (const c of e.getCoalescedEvents?.() || [e]) stroke.push(at(canvas, c));
    paint(canvas, stroke, from);
  });

  function end(e) {
    const canvas = find(e);
    const p = canvas && pad(canvas);
    if (!p?.pointer || p.pointer.id !== e.pointerId) return;
    p.pointer = null;
    lookSoon();
  }
  document.addEventListener('pointerup', end);
  document.addEventListener('pointercancel', end);

  document.addEventListener('click', (e) => {  // the canvas's own buttons
    const tool = e.target.closest?.('#teach-sketch [data-tool]');
    const canvas = canvasNow();
    if (!tool || !canvas) return;
    const p = pad(canvas);
    if (tool.dataset.tool === 'undo') p.strokes.pop();
    if (tool.dataset.tool === 'clear') p.strokes.length = 0;
    p.pointer = null;
    redraw(canvas);
    lookSoon();
  });

  function png(canvas) {
    return canvas && pad(canvas).strokes.length ? canvas.toDataURL('image/png') : '';
  }

  // The drawing as a PNG data URL ('' when empty), and the canvas emptied at once for the next one.
  // A stroke still under the pen goes with this drawing; its rest starts the next.
  function take() {
    const canvas = canvasNow();
    const drawing = png(canvas);
    if (!drawing) return '';
    const p = pad(canvas);
    p.strokes.length = 0;
    if (p.pointer) p.strokes.push((p.pointer.stroke = [p.pointer.stroke.at(-1)]));
    redraw(canvas);
    saving += 1;
    note();
    lookSoon();
    return drawing;
  }

  // "Add" takes the drawing in its own click, in the capture phase: Gradio runs the add event's js hook
  // (TAKE) only after awaiting its own work, and on a slow page the next stroke's pointer events could
  // land first and merge into this drawing. The hook then collects the drawings in click order.
  const taken = [];
  document.addEventListener('click', (e) => {
    if (e.target.closest?.('#teach-add')) taken.push(take());
    if (e.target.closest?.('#teach-create')) opening(true);
  }, { capture: true });

  // Creating or opening a project greys out the panels below it (#teach-work) until the page shows
  // that project (the event's .then calls opening(false)): a click there meanwhile was sent with the
  // project shown before, and on a busy server "Add class" a moment after "Create project" answered
  // "Open a project first", or went to the project open before. Create greys out in its click's
  // capture phase; picking a project in the list, from the event's js hook (teach_layout.OPENING).
  let openingTimer = null;
  function opening(on) {
    document.body.classList.toggle('cnn-teach-opening', on);
    clearTimeout(openingTimer);
    if (on) openingTimer = setTimeout(() => opening(false), 60000);  // an answer lost: never stuck
  }

  function collect() {  // the oldest drawing an Add click took ('' for an empty canvas)
    return taken.length ? taken.shift() : take();
  }

  function saved() {  // one add answered (kept or refused: a refusal says so in a message)
    saving = Math.max(saving - 1, 0);
    note();
  }

  function note() {
    const el = document.querySelector('#teach-sketch .teach-saving');
    if (el) el.textContent = saving ? `Saving ${saving} drawing${saving > 1 ? 's' : ''}… keep drawing.` : '';
  }

  return { collect, peek: () => png(canvasNow()), saved, opening };
})();
