-- The Ardour session test's DAW side, run by tests/ardour/run through Ardour's headless Lua
-- interpreter (ardour7-lua, i.e. luasession) with the dummy audio backend.
--
--   ardour7-lua session.lua create DIR SAMPLES   new session: a stereo track with the Genre
--       Tagger VST3 inserted, its parameters set, one automated, and a SAMPLES-long region
--       whose files the runner then replaces with the fixture
--   ardour7-lua session.lua play DIR SAMPLES     the saved session reopened: parameters and
--       automation came back; the engine rolls in real time over several hops while the
--       automation plays; the track is bounced through the plugin into "out" and without
--       processing into "raw", for the runner to compare with the fixture
--
-- Every check prints "PASS: what" or "FAIL: what: why"; the runner counts them.

local mode, dir, samples = arg[1], arg[2], tonumber(arg[3])
local NAME = "genre-tagger-test"
local RATE = 48000
-- The parameters as the plugin names them (plugin/src/params.rs), in plain units.
local HOP, SMOOTHING, MIDI_CHANNEL = "Hop", "Smoothing", "MIDI channel"
local SET = { [HOP] = 0.5, [MIDI_CHANNEL] = 7 }
-- Smoothing automated: 1 s at the start, 10 s from two seconds on.
local AUTOMATION = { { 0, 1.0 }, { 2 * RATE, 10.0 } }

local failed = 0
local function check(ok, what, why)
	if ok then
		print("PASS: " .. what)
	else
		failed = failed + 1
		print("FAIL: " .. what .. ": " .. (why or "no"))
	end
	return ok
end

local function finish()
	if Session then
		close_session()
	end
	if failed > 0 then
		os.exit(1)
	end
end

local function param_index(plugin, label)
	local pp = plugin:to_insert():plugin(0)
	for i = 0, pp:parameter_count() - 1 do
		if pp:parameter_is_input(i) and pp:parameter_label(i) == label then
			return i
		end
	end
	return nil
end

local function param(plugin, label)
	local value = ARDOUR.LuaAPI.get_processor_param(plugin, param_index(plugin, label), true)
	return value
end

local function control(plugin, label)
	return plugin:to_insert():to_automatable():automation_control(
		Evoral.Parameter(ARDOUR.AutomationType.PluginAutomation, 0, param_index(plugin, label)), false)
end

local function find_plugin(track)
	local p = track:nth_plugin(0)
	if p:isnil() then
		return nil
	end
	return p
end

local function check_latency(track, plugin)
	check(plugin:signal_latency() == 0, "the plugin reports latency 0",
		"it reports " .. plugin:signal_latency() .. " samples")
	check(track:signal_latency() == 0, "the track's latency is 0",
		"it is " .. track:signal_latency() .. " samples")
end

if mode == "create" then
	if not check(create_session(dir, NAME, RATE) ~= nil, "a new session with the dummy backend",
		"create_session failed in " .. dir) then
		os.exit(1)
	end
	local track = Session:new_audio_track(2, 2, nil, 1, "music", ARDOUR.PresentationInfo.max_order,
		ARDOUR.TrackMode.Normal, true):front()
	local plugin = ARDOUR.LuaAPI.new_plugin(Session, "Genre Tagger", ARDOUR.PluginType.VST3, "")
	if not check(not plugin:isnil(), "the Genre Tagger VST3 is found",
		"not in Ardour's plugin list (VST3_PATH=" .. tostring(os.getenv("VST3_PATH"))
		.. "; was the bundle scanned into the cache?)") then
		finish()
		os.exit(1)
	end
	check(track:add_processor_by_index(plugin, 0, nil, true) == 0, "the plugin is inserted on the track")
	check_latency(track, plugin)
	for label, value in pairs(SET) do
		local i = param_index(plugin, label)
		if check(i ~= nil, "the plugin has a parameter \"" .. label .. "\"") then
			ARDOUR.LuaAPI.set_processor_param(plugin, i, value)
			check(param(plugin, label) == value, label .. " set to " .. value,
				"reads back " .. tostring(param(plugin, label)))
		end
	end
	local al, cl = ARDOUR.LuaAPI.plugin_automation(plugin, param_index(plugin, SMOOTHING))
	if check(not al:isnil(), SMOOTHING .. " is automatable") then
		for _, point in ipairs(AUTOMATION) do
			cl:add(Temporal.timepos_t(point[1]), point[2], false, true)
		end
		control(plugin, SMOOTHING):set_automation_state(ARDOUR.AutoState.Play)
	end
	-- Ardour hands parameter changes to the plugin in its next process cycle, and the state
	-- it saves (the VST3 component's) holds what the plugin has received: saving at once
	-- would store the defaults (seen: hop 1.0, MIDI channel 1 came back).
	ARDOUR.LuaAPI.usleep(500000)
	-- A silent region of the right length: its files are where the runner puts the fixture.
	local region = track:bounce_range(0, samples, ARDOUR.InterThreadInfo(), ARDOUR.LuaAPI.nil_proc(),
		false, "feed")
	-- No fades: they would change the first and last samples of what the plugin receives.
	region:to_audioregion():set_fade_in_active(false)
	region:to_audioregion():set_fade_out_active(false)
	track:playlist():add_region(region, Temporal.timepos_t(0), 1, false, 0, 0, false)
	check(Session:save_state("", false, false, false, false, false) == 0, "the session is saved")
elseif mode == "play" then
	if not check(load_session(dir, NAME) ~= nil, "the saved session reopens", "load_session failed") then
		os.exit(1)
	end
	local track = Session:route_by_name("music"):to_track()
	local plugin = find_plugin(track)
	if not check(plugin ~= nil, "the plugin came back on the track") then
		finish()
		os.exit(1)
	end
	check_latency(track, plugin)
	for label, value in pairs(SET) do
		check(param(plugin, label) == value, label .. " came back as " .. value,
			"it is " .. tostring(param(plugin, label)))
	end
	local _, cl = ARDOUR.LuaAPI.plugin_automation(plugin, param_index(plugin, SMOOTHING))
	check(control(plugin, SMOOTHING):automation_state() == ARDOUR.AutoState.Play, SMOOTHING .. "'s automation came back playing")
	for _, point in ipairs(AUTOMATION) do
		local value = cl:eval(Temporal.timepos_t(point[1]))
		check(value == point[2], SMOOTHING .. "'s automation came back: " .. point[2] .. " at sample " .. point[1],
			"it is " .. value)
	end

	-- Real time: the transport rolls for four seconds (eight hops of 0.5 s) while the
	-- automation plays; the control follows it.
	Session:request_locate(0, false, ARDOUR.LocateTransportDisposition.MustStop, ARDOUR.TransportRequestSource.TRS_UI)
	ARDOUR.LuaAPI.usleep(200000)
	Session:request_roll(ARDOUR.TransportRequestSource.TRS_UI)
	local early, late
	for _ = 1, 40 do
		ARDOUR.LuaAPI.usleep(100000)
		local now = Session:transport_sample()
		if now < RATE and now > 0 then
			early = param(plugin, SMOOTHING)
		elseif now > 3 * RATE then
			late = param(plugin, SMOOTHING)
		end
	end
	local rolled = Session:transport_sample()
	Session:request_stop(false, false, ARDOUR.TransportRequestSource.TRS_UI)
	ARDOUR.LuaAPI.usleep(200000)
	check(rolled > 3 * RATE, "the engine rolled over several hops", "the transport reached sample " .. rolled)
	check(early ~= nil and early >= 1.0 and early < 10.0, SMOOTHING .. " followed its automation in the first second",
		"it read " .. tostring(early))
	check(late == 10.0, SMOOTHING .. " followed its automation after two seconds", "it read " .. tostring(late))

	-- The track's output: bounced through the plugin (with it), for the runner to compare.
	local out = track:bounce_range(0, samples, ARDOUR.InterThreadInfo(), plugin, true, "out")
	check(not out:isnil() and out:length():samples() == samples, "the track bounced through the plugin")
	-- The control: the same range bounced without processing keeps its subnormals.
	local raw = track:bounce_range(0, samples, ARDOUR.InterThreadInfo(), ARDOUR.LuaAPI.nil_proc(), false, "raw")
	check(not raw:isnil() and raw:length():samples() == samples, "the track bounced without processing")
	check(Session:save_state("", false, false, false, false, false) == 0, "the session is saved again")
else
	print("usage: ardour7-lua session.lua create|play DIR SAMPLES")
	os.exit(2)
end
finish()
