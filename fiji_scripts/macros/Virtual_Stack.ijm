// Plugins > Deep-Z > Virtual Stack: a virtual z-stack (planes start ... stop every step, in um)
// from the plane shown. Macro: run("Virtual Stack", "start=-10 stop=10 step=0.5 [model=DIR] [allow_extrapolation] [tta]");
what = "Virtual Stack";
deepzRequireImage(what);
source = getImageID();
title = deepzShortTitle();
Dialog.create(what);
Dialog.addMessage("Deep-Z: a virtual z-stack from the plane shown (planes start ... stop every step)");
Dialog.addNumber("Start", deepzPrefNumber("start", -5), 2, 7, deepzMicro());
Dialog.addNumber("Stop", deepzPrefNumber("stop", 5), 2, 7, deepzMicro());
Dialog.addNumber("Step", deepzPrefNumber("step", 0.5), 3, 7, deepzMicro());
deepzAddModelFields();
Dialog.show();
start = Dialog.getNumber();
stop = Dialog.getNumber();
step = Dialog.getNumber();
if (deepzInteractive()) { deepzRemember("start", start); deepzRemember("stop", stop); deepzRemember("step", step); }
options = deepzModelArgs(true);
job = deepzNewJob();
input = deepzSaveImage(source, job, "input.tif", false);
args = newArray("stack", input, "--range", d2s(start, 6), d2s(stop, 6), "--step", d2s(step, 6),
  "-o", job + "result.tif", "--no-progress");
dz = deepzRun(job, Array.concat(args, options), "virtual stack");
deepzOpenResult(job, title + " " + dz, "virtual stack");
