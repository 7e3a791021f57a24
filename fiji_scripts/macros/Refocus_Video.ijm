// Plugins > Deep-Z > Refocus Video: refocus every frame of a time-lapse to one dz ("plane"), to
// a z-stack each ("stack": start ... stop every step), or each to its own in-focus plane ("track
// focus", searched over start ... stop). Macro: run("Refocus Video", "mode=plane dz=2 start=-2 stop=2 step=0.5");
what = "Refocus Video";
deepzRequireImage(what);
source = getImageID();
title = deepzShortTitle();
Dialog.create(what);
Dialog.addMessage("Deep-Z: refocus every frame of a time-lapse (slices are read as frames)");
Dialog.addChoice("Mode", newArray("plane", "stack", "track focus"), deepzPref("mode", "plane"));
Dialog.addNumber("dz", deepzPrefNumber("dz", 0), 2, 7, deepzMicro() + " (plane)");
Dialog.addNumber("Start", deepzPrefNumber("video_start", -2), 2, 7, deepzMicro() + " (stack; track focus: searched range)");
Dialog.addNumber("Stop", deepzPrefNumber("video_stop", 2), 2, 7, deepzMicro());
Dialog.addNumber("Step", deepzPrefNumber("video_step", 0.5), 3, 7, deepzMicro());
deepzAddModelFields();
Dialog.show();
mode = Dialog.getChoice();
dz = Dialog.getNumber();
start = Dialog.getNumber();
stop = Dialog.getNumber();
step = Dialog.getNumber();
if (deepzInteractive()) {
  deepzRemember("mode", mode); deepzRemember("dz", dz);
  deepzRemember("video_start", start); deepzRemember("video_stop", stop); deepzRemember("video_step", step);
}
withAllow = true;  // (a comparison passed as an argument hangs ImageJ 1.53t's interpreter)
if (mode == "track focus") withAllow = false;
options = deepzModelArgs(withAllow);
getDimensions(w, h, channels, slices, frames);
if (channels > 1)
  deepzFail("", "'" + getTitle() + "' has " + channels + " channels; keep one (Image > Duplicate... with one channel) and run again");
if (slices > 1 && frames > 1)
  deepzFail("", "'" + getTitle() + "' has both slices and frames; a video must be frames of single planes");
job = deepzNewJob();
input = deepzSaveImage(source, job, "input.tif", true);
result = job + "result.tif";
if (mode == "plane") args = newArray("refocus", input, "--dz", d2s(dz, 6));
else if (mode == "stack") args = newArray("stack", input, "--range", d2s(start, 6), d2s(stop, 6), "--step", d2s(step, 6));
else args = newArray("refocus-video", input, "--track-focus", "--range", d2s(start, 6), d2s(stop, 6), "--step", d2s(step, 6));
args = Array.concat(args, newArray("-o", result, "--no-progress"));
label = deepzRun(job, Array.concat(args, options), "video");
deepzOpenResult(job, title + " " + label, "video");
