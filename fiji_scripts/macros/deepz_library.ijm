// ---- Deep-Z macro library: `deepz fiji install` appends it to every Plugins > Deep-Z entry ----
// The entries need no Python inside ImageJ: each saves the image to a temporary job folder, runs
// the deepz command line of the Python environment recorded at install time (DEEPZ_PYTHON, in
// the header) through `python -m deepz_fiji.cli._macro_job`, shows its progress in the status
// bar and opens the calibrated result. Keep this file ASCII: ImageJ reads macros as Latin-1.

function deepzMicro() { return fromCharCode(181) + "m"; }

// True when the entry was started from a menu (a dialog to show), false when run() gave options.
function deepzInteractive() {
  options = call("ij.Macro.getOptions");
  if (options == "" || options == "null") return true;
  return false;
}

// A remembered dialog value (menu runs only; a macro's run() always starts from the defaults).
// (The macro language types a function call by where it stands, and a `return` of anything but a
// string literal, a string function or a lone local variable as a number: keep the typed wrappers
// below, and return strings through a local variable.)
function deepzPref(key, fallback) {
  if (deepzInteractive() == false) return "" + fallback;
  return call("ij.Prefs.get", "deepz." + key, "" + fallback);
}

function deepzPrefNumber(key, fallback) {
  value = deepzPref(key, fallback);
  return parseFloat(value);
}

function deepzPrefFlag(key) {
  value = deepzPref(key, "false");
  if (value == "true") return true;
  return false;
}

function deepzFlagText(flag) {
  if (flag) return "true";
  return "false";
}

function deepzRemember(key, value) {
  call("ij.Prefs.set", "deepz." + key, "" + value);
}

// The model field and the two options every refocusing entry shares (read them with deepzModelArgs).
function deepzAddModelFields() {
  Dialog.addDirectory("Model", deepzPref("model", ""));
  Dialog.addMessage("Model: a model folder or name; empty = the shipped default model");
  Dialog.addCheckbox("Allow_extrapolation (" + fromCharCode(916) + "z outside the model's trained range; unreliable)",
    deepzPrefFlag("allow_extrapolation"));
  Dialog.addCheckbox("TTA: average over 8 rotations/mirrors (8x slower, more accurate)",
    deepzPrefFlag("tta"));
}

// Reads the fields of deepzAddModelFields; returns the matching deepz options. withAllow=false
// for commands that have no --allow-extrapolation (the box is still read, to keep the order).
function deepzModelArgs(withAllow) {
  model = String.trim(Dialog.getString());
  allow = Dialog.getCheckbox();
  tta = Dialog.getCheckbox();
  if (deepzInteractive()) {
    deepzRemember("model", model);
    deepzRemember("allow_extrapolation", deepzFlagText(allow));
    deepzRemember("tta", deepzFlagText(tta));
  }
  args = newArray(0);
  if (model != "") args = Array.concat(args, newArray("--model", model));
  if (allow && withAllow) args = Array.concat(args, newArray("--allow-extrapolation"));
  if (tta) args = Array.concat(args, newArray("--tta"));
  return args;
}

function deepzRequireImage(what) {
  if (nImages == 0) deepzFail("", "no image is open; open one, then run Plugins > Deep-Z > " + what + " again");
}

// ImagePlus.getShortTitle(): the title up to its first space, without the extension.
function deepzShortTitle() {
  title = getTitle();
  i = indexOf(title, " ");
  if (i > 0) title = substring(title, 0, i);
  i = lastIndexOf(title, ".");
  if (i > 0) title = substring(title, 0, i);
  return title;
}

function deepzNewJob() {
  dir = getDirectory("temp") + "deepz-job-" + d2s(getTime(), 0) + "-" + floor(random * 1000000) + File.separator;
  File.makeDirectory(dir);
  if (!File.isDirectory(dir))
    deepzFail("", "cannot create the folder " + dir + "; check that ImageJ may write into " + getDirectory("temp"));
  return dir;
}

// Saves the plane shown (whole=false) or all of it (whole=true, slices read as frames) of image
// `id` as dir+name, an ImageJ TIFF with the calibration; the user's image and selection stay as they were.
function deepzSaveImage(id, dir, name, whole) {
  current = getImageID();
  batch = is("Batch Mode");
  setBatchMode(true);
  selectImage(id);
  hadRoi = selectionType() != -1;
  if (hadRoi) run("Select None");
  if (whole) run("Duplicate...", "title=deepz-input duplicate");
  else run("Duplicate...", "title=deepz-input");
  getDimensions(w, h, channels, slices, frames);
  if (whole && frames == 1 && slices > 1) Stack.setDimensions(channels, 1, slices);
  saveAs("Tiff", dir + name);
  close();
  selectImage(id);
  if (hadRoi) run("Restore Selection");
  selectImage(current);
  if (!batch) setBatchMode(false);
  path = dir + name;
  return path;
}

function deepzRead(path) {
  if (!File.exists(path)) return "";
  return String.trim(File.openAsString(path));
}

// Starts `deepz ARGS` for job `dir` and waits for it, showing its progress; returns its exit code.
function deepzWait(dir, args, what) {
  File.saveString(String.join(args, "\n") + "\n", dir + "args.txt");
  out = exec(DEEPZ_PYTHON, "-m", "deepz_fiji.cli._macro_job", "start", dir);
  if (!startsWith(out, "started"))
    deepzFail(dir, "cannot run deepz with " + DEEPZ_PYTHON + " (" + String.trim(out) + "); run `deepz fiji install` again from the Python environment that has deepz-fiji");
  showStatus("Deep-Z " + what + ": starting (loading the model)...");
  started = getTime();
  while (!File.exists(dir + "status.txt")) {
    File.saveString("" + getTime(), dir + "alive.txt");
    lines = split(deepzRead(dir + "progress.txt"), "\n");
    if (lines.length >= 2) {
      counts = split(lines[0], " ");
      if (counts.length == 2 && parseInt(counts[1]) > 0) {
        showProgress(parseInt(counts[0]), parseInt(counts[1]));
        showStatus("Deep-Z " + lines[1] + ": " + counts[0] + "/" + counts[1]);
      }
    }
    beat = deepzRead(dir + "running.txt");
    last = started + 180000;  // Python and TensorFlow may take a while to start on a busy machine
    if (beat != "") last = maxOf(last, parseFloat(beat) * 1000 + 120000);  // a heartbeat every second
    if (getTime() > last && !File.exists(dir + "status.txt"))
      deepzFail(dir, "the deepz process stopped without a result (it crashed or was killed, e.g. out of memory); run `deepz " + String.join(args, " ") + "` in a terminal to see why");
    wait(200);
  }
  showProgress(1);
  return parseInt(deepzRead(dir + "status.txt"));
}

// Runs `deepz ARGS` for job `dir` (see deepzWait); on failure shows the command's one-line error
// and aborts (also a calling macro). Returns the result's title suffix (its dz).
function deepzRun(dir, args, what) {
  status = deepzWait(dir, args, what);
  if (status != 0) {
    message = deepzRead(dir + "message.txt");
    if (message == "") message = "deepz stopped with exit code " + status;
    deepzFail(dir, message);
  }
  warnings = deepzRead(dir + "warnings.txt");
  if (warnings != "") print("Deep-Z " + what + ":\n" + warnings);
  title = deepzRead(dir + "title.txt");
  return title;
}

// Opens the job's result.tif as the current image, titled `title`, and removes the job folder.
function deepzOpenResult(dir, title, what) {
  open(dir + "result.tif");
  rename(title);
  deepzClean(dir);
  showStatus("Deep-Z " + what + ": done (" + title + ")");
}

function deepzClean(dir) {
  if (dir == "" || !File.isDirectory(dir)) return;
  exec(DEEPZ_PYTHON, "-m", "deepz_fiji.cli._macro_job", "clean", dir);
  if (File.isDirectory(dir)) {  // Python did not run: remove what the macro wrote itself
    files = getFileList(dir);
    for (i = 0; i < files.length; i++) File.delete(dir + files[i]);
    File.delete(dir);
  }
}

// Removes the job folder, shows `message` in an error dialog and aborts (a calling macro too).
function deepzFail(dir, message) {
  deepzClean(dir);
  showProgress(1);
  showStatus("Deep-Z: " + message);
  call("ij.IJ.error", "Deep-Z", message);
  call("ij.Macro.abort");
  exit;
}
