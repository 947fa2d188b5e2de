// Forensight web app: single-image analysis with a per-model comparison, batches with progress,
// this browser's history (localStorage) and exports (CSV, JSON, the server's PDF report).
// Plain ES2020 over Bootstrap 5 and Chart.js 3 (Debian's, served by `forensight serve`): no build
// step, no framework, and every piece of text from a file or the server goes in as textContent.
'use strict';

(() => {
  const HISTORY_KEY = 'forensight.history.v1';
  const HISTORY_CAP = 200;      // analyses kept in localStorage, newest first
  const THUMB_PX = 96;          // longest side of a stored thumbnail
  const BATCH_CHUNK = 4;        // images per /v1/detect/batch request: the progress bar's step
  const ALL_MODELS = '__all__'; // the model choice "every model"
  const COLOR_REAL = '#198754';
  const COLOR_AI = '#dc3545';

  const $ = (id) => document.getElementById(id);
  const state = {
    models: [],          // GET /v1/models
    singleFile: null,
    batchFiles: [],
    lastSingle: null,    // the last single analysis
    lastBatch: [],       // the last batch's analyses
    history: loadHistory(),
    compareChart: null,
    batchChart: null,
  };

  // ---- Small helpers ---------------------------------------------------------------------------

  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key === 'style') node.style.cssText = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function fmtMs(ms) {
    if (ms == null || !Number.isFinite(ms)) return '—';
    return ms < 10 ? ms.toFixed(2) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0);
  }
  const fmtP = (p) => (p == null || !Number.isFinite(p) ? '—' : p.toFixed(3));
  const labelText = (label) => (label === 'ai-generated' ? 'AI-generated' : 'Real');
  const isAi = (label) => label === 'ai-generated';
  const confidenceOf = (a) => (isAi(a.label) ? a.p_ai : 1 - a.p_ai);

  function showError(message) {
    const alert = $('error-alert');
    alert.textContent = message;
    alert.classList.remove('d-none');
  }
  function clearError() {
    $('error-alert').classList.add('d-none');
  }

  // fetch, the body read as JSON when it is JSON; a non-2xx answer throws with the server's error.
  async function request(url, options = {}) {
    const response = await fetch(url, options);
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try {
        const text = await response.text();
        const body = type.includes('json') ? JSON.parse(text) : null;
        message = (body && (body.error || body.message)) || text || message;
      } catch (_) { /* keep the status line */ }
      throw new Error(message);
    }
    return response;
  }

  function detectUrl(base, choice) {
    return choice && choice !== ALL_MODELS ? `${base}?models=${encodeURIComponent(choice)}` : base;
  }

  function download(blob, fileName) {
    const url = URL.createObjectURL(blob);
    const link = el('a', { href: url, download: fileName, class: 'd-none' });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(url); link.remove(); }, 5000);
  }

  // A small JPEG data URL of an image file, for the history and the PDF; null when the browser
  // cannot decode it.
  async function makeThumbnail(file) {
    try {
      const bitmap = await createImageBitmap(file);
      const scale = Math.min(1, THUMB_PX / Math.max(bitmap.width, bitmap.height));
      const canvas = el('canvas');
      canvas.width = Math.max(1, Math.round(bitmap.width * scale));
      canvas.height = Math.max(1, Math.round(bitmap.height * scale));
      canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      bitmap.close();
      return canvas.toDataURL('image/jpeg', 0.8);
    } catch (_) {
      return null;
    }
  }

  // A label as the server sends it (1/0, or "ai-generated"/"real") as "ai-generated" or "real".
  function labelOf(label, labelName, pAi) {
    if (labelName === 'ai-generated' || labelName === 'real') return labelName;
    if (label === 'ai-generated' || label === 'real') return label;
    if (label === 1 || label === 0) return label === 1 ? 'ai-generated' : 'real';
    return pAi >= 0.5 ? 'ai-generated' : 'real';
  }

  // One image's answer (from /v1/detect or an item of /v1/detect/batch) as a history record.
  // The server lists each model's answer under "models" (P(AI) as "probability_fake") and, for
  // several models, their mean under "mean"; `shareMs` is the image's share of a batch request.
  function toAnalysis(file, answer, thumbnail, roundTripMs, source, shareMs = null) {
    const results = (answer.models || answer.results || []).map((r) => {
      const pAi = r.probability_fake ?? r.p_ai;
      return {
        model: r.model,
        precision: r.precision ?? null,
        label: labelOf(r.label, r.label_name, pAi),
        p_ai: pAi,
        queue_ms: r.queue_ms ?? null,
        compute_ms: r.compute_ms ?? null,
      };
    });
    const mean = answer.mean || {};
    let pAi = mean.probability_fake ?? answer.mean_p_ai ?? answer.probability_fake;
    if (pAi == null && results.length) pAi = results.reduce((s, r) => s + r.p_ai, 0) / results.length;
    const label = results.length === 1 && mean.probability_fake == null
      ? results[0].label
      : labelOf(mean.label ?? answer.label, mean.label_name ?? answer.label_name, pAi);
    return {
      id: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      timestamp: new Date().toISOString(),
      source,
      file_name: file.name,
      label,
      p_ai: pAi,
      total_ms: answer.milliseconds ?? answer.total_ms ?? shareMs,
      round_trip_ms: roundTripMs,
      results,
      thumbnail,
    };
  }

  // ---- Models ----------------------------------------------------------------------------------

  async function loadModels() {
    try {
      const response = await request('/v1/models');
      state.models = (await response.json()).models || [];
    } catch (error) {
      showError(`Could not list the server's models: ${error.message}`);
      $('server-models').textContent = 'no models';
      return;
    }
    $('server-models').textContent = state.models
      .map((m) => `${m.name} (${[m.precision, m.device].filter(Boolean).join(', ')})`).join(' · ');

    const choice = $('model-choice');
    const batch = $('batch-models');
    choice.replaceChildren();
    batch.replaceChildren();
    const options = state.models.map((m) => ({
      value: m.name,
      text: m.name,
      detail: [m.precision, m.device, (m.image_size_px ?? m.image_size) ? `${m.image_size_px ?? m.image_size} px` : null]
        .filter(Boolean).join(' · '),
    }));
    if (state.models.length > 1)
      options.push({ value: ALL_MODELS, text: `Compare all ${state.models.length}`, detail: 'side by side' });
    const checked = options[options.length - 1]?.value;
    options.forEach((option, i) => {
      const id = `model-${i}`;
      const input = el('input', { class: 'form-check-input', type: 'radio', name: 'model', id, value: option.value });
      input.checked = option.value === checked;
      choice.append(el('div', { class: 'form-check' }, input,
        el('label', { class: 'form-check-label', for: id }, option.text,
          el('span', { class: 'text-muted small ms-2', text: option.detail }))));
      const opt = el('option', { value: option.value, text: option.text });
      opt.selected = option.value === checked;
      batch.append(opt);
    });
    document.body.dataset.ready = '1';
    updateButtons();
  }

  function singleChoice() {
    const checked = document.querySelector('input[name="model"]:checked');
    return checked ? checked.value : ALL_MODELS;
  }

  function updateButtons() {
    const ready = state.models.length > 0;
    $('analyze').disabled = !ready || !state.singleFile;
    $('batch-run').disabled = !ready || state.batchFiles.length === 0;
  }

  // ---- Single image ----------------------------------------------------------------------------

  function setSingleFile(file) {
    state.singleFile = file || null;
    const preview = $('preview');
    if (preview.src) URL.revokeObjectURL(preview.src);
    if (file) {
      preview.src = URL.createObjectURL(file);
      preview.classList.remove('d-none');
    } else {
      preview.removeAttribute('src');
      preview.classList.add('d-none');
    }
    updateButtons();
  }

  async function analyzeSingle() {
    const file = state.singleFile;
    if (!file) return;
    clearError();
    $('analyze').disabled = true;
    $('analyze-spinner').classList.remove('d-none');
    try {
      const start = performance.now();
      const response = await request(detectUrl('/v1/detect', singleChoice()), {
        method: 'POST',
        headers: { 'Content-Type': file.type || 'application/octet-stream' },
        body: file,
      });
      const answer = await response.json();
      const roundTripMs = performance.now() - start;
      const analysis = toAnalysis(file, answer, await makeThumbnail(file), roundTripMs, 'single');
      state.lastSingle = analysis;
      addHistory([analysis]);
      renderVerdict(analysis);
    } catch (error) {
      showError(`Analysis of ${file.name} failed: ${error.message}`);
    } finally {
      $('analyze-spinner').classList.add('d-none');
      updateButtons();
    }
  }

  function renderVerdict(a) {
    $('single-empty').classList.add('d-none');
    $('verdict-card').classList.remove('d-none');
    const label = $('verdict-label');
    label.textContent = labelText(a.label);
    label.className = `h3 mb-0 ${isAi(a.label) ? 'verdict-ai' : 'verdict-real'}`;
    $('verdict-confidence').textContent = `${(100 * confidenceOf(a)).toFixed(1)}% confidence`;
    $('verdict-time').textContent = `${fmtMs(a.total_ms ?? a.round_trip_ms)} ms`;
    $('verdict-time').title = 'time the server took for the request';
    $('verdict-bar').style.width = `${(100 * a.p_ai).toFixed(1)}%`;
    const models = a.results.length;
    $('verdict-detail').textContent =
      `${a.file_name} · P(AI) ${fmtP(a.p_ai)}${models > 1 ? ` (mean of ${models} models)` : ''}` +
      ` · server ${fmtMs(a.total_ms)} ms · round trip ${fmtMs(a.round_trip_ms)} ms`;

    const agreement = $('verdict-agreement');
    agreement.replaceChildren();
    if (models > 1) {
      const agree = a.results.every((r) => r.label === a.results[0].label);
      agreement.append(el('span', {
        class: `badge ${agree ? 'text-bg-success' : 'text-bg-warning'}`,
        id: 'verdict-agree',
        text: agree ? 'The models agree' : 'The models disagree',
      }));
    }

    const body = $('model-results').querySelector('tbody');
    body.replaceChildren(...a.results.map((r) => {
      return el('tr', {},
        el('td', { class: 'fw-semibold', text: r.model }),
        el('td', {}, el('span', { class: 'badge text-bg-light border', text: r.precision || '—' })),
        el('td', { class: isAi(r.label) ? 'verdict-ai' : 'verdict-real', text: labelText(r.label) }),
        el('td', { class: 'text-end', text: fmtP(r.p_ai) }),
        el('td', { class: 'text-end', text: fmtMs(r.queue_ms) }),
        el('td', { class: 'text-end', text: fmtMs(r.compute_ms) }));
    }));
    $('model-results-wrap').classList.toggle('d-none', models === 0);
    $('compare-chart-wrap').classList.toggle('d-none', models === 0);
    drawCompareChart(a);
  }

  // The seed app's comparison: each model's P(real) and P(AI) side by side, in percent.
  function drawCompareChart(a) {
    const labels = a.results.map((r) => (r.precision ? `${r.model} (${r.precision})` : r.model));
    const data = {
      labels,
      datasets: [
        { label: 'Real %', data: a.results.map((r) => 100 * (1 - r.p_ai)), backgroundColor: COLOR_REAL },
        { label: 'AI-generated %', data: a.results.map((r) => 100 * r.p_ai), backgroundColor: COLOR_AI },
      ],
    };
    if (state.compareChart) {
      state.compareChart.data = data;
      state.compareChart.update();
      return;
    }
    state.compareChart = new Chart($('compare-chart'), {
      type: 'bar',
      data,
      options: {
        maintainAspectRatio: false,
        animation: { duration: 250 },
        scales: { y: { min: 0, max: 100, title: { display: true, text: 'probability (%)' } } },
        plugins: {
          title: { display: true, text: 'Model comparison' },
          tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${c.parsed.y.toFixed(1)}` } },
        },
      },
    });
  }

  // ---- Batch -----------------------------------------------------------------------------------

  function setBatchFiles(files) {
    state.batchFiles = Array.from(files || []);
    $('batch-selected').textContent = state.batchFiles.length
      ? `${state.batchFiles.length} image${state.batchFiles.length === 1 ? '' : 's'} selected`
      : 'or drop images here';
    updateButtons();
  }

  function setProgress(done, total) {
    const bar = $('batch-progress');
    const percent = total ? Math.round((100 * done) / total) : 0;
    bar.style.width = `${percent}%`;
    bar.textContent = `${percent}%`;
    bar.setAttribute('aria-valuenow', String(percent));
    bar.classList.toggle('progress-bar-animated', done < total);
    bar.classList.toggle('bg-success', total > 0 && done === total);
  }

  function batchRow(file, analysis, error) {
    if (error) {
      return el('tr', { class: 'table-warning' },
        el('td'), el('td', { class: 'text-break', text: file.name }),
        el('td', { colspan: '4', class: 'text-danger small', text: error }));
    }
    const a = analysis;
    return el('tr', { 'data-label': a.label },
      el('td', {}, a.thumbnail ? el('img', { class: 'thumb rounded', src: a.thumbnail, alt: '' }) : null),
      el('td', { class: 'text-break', text: a.file_name }),
      el('td', {}, el('span', { class: `badge ${isAi(a.label) ? 'text-bg-danger' : 'text-bg-success'}`, text: labelText(a.label) })),
      el('td', { class: 'text-end', text: fmtP(a.p_ai) }),
      el('td', { class: 'small text-muted', text: a.results.map((r) => `${r.model} ${fmtP(r.p_ai)}`).join(' · ') }),
      el('td', { class: 'text-end', text: fmtMs(a.total_ms ?? a.round_trip_ms) }));
  }

  async function runBatch() {
    const files = state.batchFiles;
    if (!files.length) return;
    clearError();
    $('batch-run').disabled = true;
    const body = $('batch-table').querySelector('tbody');
    body.replaceChildren();
    setProgress(0, files.length);
    $('batch-status').textContent = `Analysing ${files.length} images…`;
    const choice = $('batch-models').value;
    const analyses = [];
    let failed = 0;
    const start = performance.now();
    for (let begin = 0; begin < files.length; begin += BATCH_CHUNK) {
      const chunk = files.slice(begin, begin + BATCH_CHUNK);
      const form = new FormData();
      for (const file of chunk) form.append('images', file, file.name);
      let items = null;
      let shareMs = null;  // the server's time for the request, per image
      let chunkError = null;
      const chunkStart = performance.now();
      try {
        const response = await request(detectUrl('/v1/detect/batch', choice), { method: 'POST', body: form });
        const answer = await response.json();
        items = answer.results || answer.items || [];
        const ms = answer.milliseconds ?? answer.total_ms;
        if (ms != null) shareMs = ms / chunk.length;
      } catch (error) {
        chunkError = error.message;
      }
      const roundTripMs = (performance.now() - chunkStart) / chunk.length;
      for (let i = 0; i < chunk.length; ++i) {
        const item = items ? items[i] : null;
        const error = chunkError || (!item ? 'no answer for this image' : item.error);
        if (error) {
          ++failed;
          body.append(batchRow(chunk[i], null, error));
          continue;
        }
        const analysis = toAnalysis(chunk[i], item, await makeThumbnail(chunk[i]), roundTripMs, 'batch', shareMs);
        analyses.push(analysis);
        body.append(batchRow(chunk[i], analysis, null));
      }
      setProgress(Math.min(begin + chunk.length, files.length), files.length);
    }
    const seconds = (performance.now() - start) / 1000;
    state.lastBatch = analyses;
    addHistory(analyses.slice().reverse());
    const ai = analyses.filter((a) => isAi(a.label)).length;
    $('batch-count-ai').textContent = String(ai);
    $('batch-count-real').textContent = String(analyses.length - ai);
    $('batch-status').textContent = `Analysed ${analyses.length} of ${files.length} images in ${seconds.toFixed(2)} s` +
      (failed ? ` (${failed} failed)` : '') + '.';
    drawBatchChart(analyses);
    updateButtons();
  }

  // How the batch's P(AI) spread: ten bins from real (green) to AI-generated (red).
  function drawBatchChart(analyses) {
    const bins = new Array(10).fill(0);
    for (const a of analyses) bins[Math.min(9, Math.floor(a.p_ai * 10))] += 1;
    const data = {
      labels: bins.map((_, i) => `${(i / 10).toFixed(1)}–${((i + 1) / 10).toFixed(1)}`),
      datasets: [{
        label: 'images',
        data: bins,
        backgroundColor: bins.map((_, i) => (i < 5 ? COLOR_REAL : COLOR_AI)),
      }],
    };
    if (state.batchChart) {
      state.batchChart.data = data;
      state.batchChart.update();
      return;
    }
    state.batchChart = new Chart($('batch-chart'), {
      type: 'bar',
      data,
      options: {
        maintainAspectRatio: false,
        animation: { duration: 250 },
        scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { title: { display: true, text: 'P(AI)' } } },
        plugins: { legend: { display: false }, title: { display: true, text: 'P(AI) over the batch' } },
      },
    });
  }

  // ---- History ---------------------------------------------------------------------------------

  function loadHistory() {
    try {
      const list = JSON.parse(localStorage.getItem(HISTORY_KEY) || '[]');
      return Array.isArray(list) ? list.slice(0, HISTORY_CAP) : [];
    } catch (_) {
      return [];
    }
  }

  // Saves the history; when the browser's quota is reached, the oldest thumbnails go first, then
  // the oldest analyses.
  function saveHistory() {
    for (let attempt = 0; attempt < 8; ++attempt) {
      try {
        localStorage.setItem(HISTORY_KEY, JSON.stringify(state.history));
        return;
      } catch (_) {
        const withThumb = state.history.map((a, i) => (a.thumbnail ? i : -1)).filter((i) => i >= 0);
        if (withThumb.length > 1)
          for (const i of withThumb.slice(Math.floor(withThumb.length / 2))) state.history[i].thumbnail = null;
        else
          state.history = state.history.slice(0, Math.floor(state.history.length / 2));
      }
    }
  }

  function addHistory(analyses) {
    state.history = analyses.concat(state.history).slice(0, HISTORY_CAP);
    saveHistory();
    renderHistory();
  }

  function renderHistory() {
    $('history-count').textContent = String(state.history.length);
    $('history-empty').classList.toggle('d-none', state.history.length > 0);
    $('history-list').replaceChildren(...state.history.map((a) => el('div', { class: 'col' },
      el('div', { class: 'card h-100 history-card' },
        a.thumbnail
          ? el('img', { class: 'card-img-top', src: a.thumbnail, alt: a.file_name })
          : el('div', { class: 'card-img-top bg-secondary-subtle', style: 'height:110px' }),
        el('div', { class: 'card-body p-2 small' },
          el('div', { class: 'text-truncate fw-semibold', title: a.file_name, text: a.file_name }),
          el('div', { class: isAi(a.label) ? 'verdict-ai' : 'verdict-real',
            text: `${labelText(a.label)} · ${(100 * confidenceOf(a)).toFixed(1)}%` }),
          el('div', { class: 'text-muted', text: `${a.results.map((r) => r.model).join(', ')} · ${fmtMs(a.total_ms ?? a.round_trip_ms)} ms` }),
          el('div', { class: 'text-muted', text: new Date(a.timestamp).toLocaleString() }))))));
  }

  // ---- Export ----------------------------------------------------------------------------------

  function exportAnalyses() {
    const scope = $('export-scope').value;
    const list = scope === 'batch' ? state.lastBatch
      : scope === 'last' ? [state.lastSingle || state.history[0]].filter(Boolean)
      : state.history.slice().reverse();  // oldest first, as they happened
    if (!list.length) showError('Nothing to export yet: analyse an image first.');
    return list;
  }

  function csvField(value) {
    let text = value == null ? '' : String(value);
    if (/^[=+@\t\r]/.test(text)) text = `'${text}`;  // not a formula when a spreadsheet opens it
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  }

  function exportCsv() {
    clearError();
    const list = exportAnalyses();
    if (!list.length) return;
    const header = ['timestamp', 'file_name', 'label', 'p_ai', 'confidence', 'models', 'per_model_p_ai',
      'total_ms', 'round_trip_ms', 'source'];
    const rows = list.map((a) => [
      a.timestamp, a.file_name, a.label, fmtP(a.p_ai), (100 * confidenceOf(a)).toFixed(1),
      a.results.map((r) => r.model).join(';'),
      a.results.map((r) => `${r.model}=${fmtP(r.p_ai)}`).join(';'),
      a.total_ms == null ? '' : a.total_ms.toFixed(3), a.round_trip_ms == null ? '' : a.round_trip_ms.toFixed(3),
      a.source,
    ].map(csvField).join(','));
    download(new Blob([[header.join(','), ...rows].join('\r\n') + '\r\n'], { type: 'text/csv' }),
      'forensight-analyses.csv');
  }

  function exportJson() {
    clearError();
    const list = exportAnalyses();
    if (!list.length) return;
    const analyses = list.map(({ thumbnail, ...rest }) => rest);
    const text = JSON.stringify({ generated_at: new Date().toISOString(), analyses }, null, 2);
    download(new Blob([text], { type: 'application/json' }), 'forensight-analyses.json');
  }

  async function exportPdf() {
    clearError();
    const list = exportAnalyses();
    if (!list.length) return;
    const button = $('export-pdf');
    button.disabled = true;
    try {
      const report = {
        title: 'Forensight analysis report',
        generated_at: new Date().toLocaleString(),
        analyses: list.map((a) => ({
          file_name: a.file_name,
          label: a.label,
          p_ai: a.p_ai,
          total_ms: a.total_ms ?? a.round_trip_ms,
          timestamp: new Date(a.timestamp).toLocaleString(),
          thumbnail: a.thumbnail,
          results: a.results.map((r) => ({ model: r.model, precision: r.precision, p_ai: r.p_ai, compute_ms: r.compute_ms })),
        })),
      };
      const response = await request('/v1/report', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(report),
      });
      download(await response.blob(), 'forensight-report.pdf');
    } catch (error) {
      showError(`The PDF report failed: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  }

  // ---- Wiring ----------------------------------------------------------------------------------

  function dropZone(zone, onFiles) {
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('dragover'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('dragover'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('dragover');
      onFiles(Array.from(e.dataTransfer.files).filter((f) => f.type.startsWith('image/') || f.type === ''));
    });
  }

  // A file dropped beside a zone must not make the browser navigate away to it.
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => e.preventDefault());

  $('file-input').addEventListener('change', (e) => setSingleFile(e.target.files[0]));
  $('batch-input').addEventListener('change', (e) => setBatchFiles(e.target.files));
  dropZone($('single-drop'), (files) => setSingleFile(files[0]));
  dropZone($('batch-drop'), setBatchFiles);
  $('analyze').addEventListener('click', analyzeSingle);
  $('batch-run').addEventListener('click', runBatch);
  $('export-csv').addEventListener('click', exportCsv);
  $('export-json').addEventListener('click', exportJson);
  $('export-pdf').addEventListener('click', exportPdf);
  $('history-clear').addEventListener('click', () => {
    if (!window.confirm('Forget every analysis kept in this browser?')) return;
    state.history = [];
    saveHistory();
    renderHistory();
  });
  // Chart.js sizes a chart from its box, which is 0 while its tab is hidden.
  document.querySelectorAll('button[data-bs-toggle="tab"]').forEach((tab) =>
    tab.addEventListener('shown.bs.tab', () => {
      state.compareChart?.resize();
      state.batchChart?.resize();
    }));

  $('history-cap').textContent = String(HISTORY_CAP);
  renderHistory();
  loadModels();
})();
