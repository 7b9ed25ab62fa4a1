// Keeps Dawn's native chatter out of the CLI's stderr. Dawn (the `webgpu` package) writes straight to
// file descriptor 2 from C++ — "Warning: maxDynamicUniformBuffersPerPipelineLayout artificially
// reduced ...", "error: XDG_RUNTIME_DIR is invalid ...", and when a Vulkan driver is missing, the
// loader's warnings followed by Dawn's source locations — so no JavaScript hook can reach it. The CLI
// runs in a child process (bin/tabtune.mjs) whose stderr passes through this filter.
//
// Everything else goes through unchanged and as it comes: a partial line that cannot become one of
// these lines (a "\r" progress line, a prompt) is written at once, not held until its newline.
// Dawn's and the loader's diagnostics (not the plain noise) are kept, so that the CLI can show them
// when the command fails.

/** Always dropped. */
const NOISE = [
  /^Warning: maxDynamic(?:Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.$/,
  /^error: XDG_RUNTIME_DIR\b/,
];
/** A native warning from Dawn or the Vulkan loader: dropped, but kept for a failure report. */
const DIAGNOSTIC = /^Warning: /;
/** Dawn's source location after a diagnostic ("    at CheckVkSuccessImpl (/.../dawn/src/...cpp:106)"). */
const LOCATION = /^\s+at \S.*\(.*\)$/;

/** Beginnings of lines that may have to be dropped: such a partial line waits for its newline. */
const STARTS = ['Warning: ', 'error: XDG_RUNTIME_DIR'];
const MAX_HELD = 8192;

export class StderrFilter {
  /** @param {(s: string) => void} write where the kept text goes */
  constructor(write) {
    this.write = write;
    this.pending = ''; // the start of a line not yet classified
    this.passing = false; // the current line is already known to be kept and partly written
    this.afterDiagnostic = false; // the previous line was dropped as a native diagnostic
    this.afterLocation = false; // ... or as the source location that follows one
    /** The native diagnostics that were dropped, for a failure report. */
    this.diagnostics = [];
  }

  /** True while `s` (the start of a line) may still turn out to be a line to drop. */
  mayBeDropped(s) {
    if (s === '') return true;
    if (STARTS.some((p) => p.startsWith(s) || s.startsWith(p))) return true;
    // A source location ("   at ...") only counts right after a diagnostic.
    return this.afterDiagnostic && /^\s+(?:a|at|at .*)?$/.test(s);
  }

  /** Decides about one whole line (without its newline): true to keep it. */
  keep(line) {
    const wasDiagnostic = this.afterDiagnostic;
    const wasLocation = this.afterLocation;
    this.afterDiagnostic = false;
    this.afterLocation = false;
    if (NOISE.some((re) => re.test(line))) return false;
    if (DIAGNOSTIC.test(line)) {
      this.diagnostics.push(line);
      this.afterDiagnostic = true;
      return false;
    }
    if (wasDiagnostic && LOCATION.test(line)) {
      this.diagnostics.push(line);
      this.afterLocation = true;
      return false;
    }
    // Dawn ends a located warning with a blank line.
    if (wasLocation && line === '') return false;
    return true;
  }

  /** @param {string} chunk */
  push(chunk) {
    let text = chunk;
    while (text.length) {
      const nl = text.indexOf('\n');
      if (nl < 0) {
        if (this.passing) {
          this.write(text);
        } else {
          this.pending += text;
          if (!this.mayBeDropped(this.pending) || this.pending.length > MAX_HELD) {
            this.write(this.pending);
            this.pending = '';
            this.passing = true;
            this.afterDiagnostic = false;
            this.afterLocation = false;
          }
        }
        return;
      }
      const seg = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (this.passing) {
        this.write(`${seg}\n`);
        this.passing = false;
        continue;
      }
      const line = this.pending + seg;
      this.pending = '';
      if (this.keep(line)) this.write(`${line}\n`);
    }
  }

  /** Writes a held partial line (the stream ended without its newline). */
  end() {
    if (this.pending && this.keep(this.pending)) this.write(this.pending);
    this.pending = '';
    this.passing = false;
  }
}
