// The one script of the replay pages (no inline script: the Content-Security-Policy forbids it).
// It reads where the cast is from a data attribute and starts the player; recorded text never
// reaches this script as markup: the player draws terminal output as text.
(function () {
  'use strict';
  var el = document.getElementById('player');
  if (!el || !window.AsciinemaPlayer) return;
  performance.mark('tg-player-create');
  var player = window.AsciinemaPlayer.create({ url: el.dataset.cast, parser: 'asciicast' }, el, {
    fit: 'width',
    idleTimeLimit: 2,
    preload: true,
    poster: 'npt:0:0',
    terminalFontSize: 'small',
  });
  var first = true;
  function frame() {
    if (!first) return;
    first = false;
    performance.mark('tg-player-first-frame');
    el.dataset.state = 'ready';
  }
  // "ready" is not in the typed API of 3.x, but the player dispatches it once the recording is loaded.
  player.addEventListener('ready', frame);
  player.addEventListener('play', function () { el.dataset.played = 'yes'; });
  player.addEventListener('playing', function () { frame(); el.dataset.state = 'playing'; });
  player.addEventListener('ended', function () { el.dataset.state = 'ended'; });
  window.trailgatePlayer = player;
})();
