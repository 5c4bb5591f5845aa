/**
 * @module content-guard/vocab/curated
 * The hand-curated vocabularies of the content guard, in English and Spanish: the lay
 * words patients and clinics actually text, which the government lists (derived.ts) do not
 * hold, and the lists that steer context — ambiguous abbreviations, vaccines, insurers,
 * known-safe phrases. Written for Tidings (Apache-2.0); docs/content-guard.md names every
 * list's source. Terms are written lower-case; accents are optional (matching folds them).
 */
import type { Category } from '../types.js';

/** Words and phrases that reveal health information wherever they appear (unless broadcast). */
export const TERMS: Readonly<Record<Exclude<Category, 'identifier' | 'financial'>, string>> = {
  condition: `
    diabetes, diabetic, prediabetes, pre-diabetes, type 2 diabetes, type 1 diabetes,
    blood sugar, high blood sugar, low blood sugar, hypoglycemia, hyperglycemia, asthma,
    asthmatic, copd, emphysema, bronchitis, pneumonia, high blood pressure, hypertension,
    hypertensive, low blood pressure, hypotension, high cholesterol, hyperlipidemia,
    heart attack, heart failure, heart disease, heart condition, congestive heart failure,
    chf, afib, a-fib, atrial fibrillation, arrhythmia, palpitations, angina, stroke, tia,
    mini-stroke, aneurysm, blood clot, blood clots, dvt, embolism, cancer, cancers, tumor,
    tumour, tumors, malignant, malignancy, metastatic, leukemia, lymphoma, melanoma,
    carcinoma, sarcoma, myeloma, chemo-related, neoplasm, kidney disease, kidney failure,
    ckd, renal failure, kidney stones, kidney stone, liver disease, cirrhosis, fatty liver,
    hepatitis, hep c, hep b, arthritis, osteoarthritis, rheumatoid, lupus, gout,
    fibromyalgia, osteoporosis, osteopenia, back pain, neck pain, knee pain, hip pain,
    chest pain, joint pain, chronic pain, pain, abdominal pain, pelvic pain, migraine,
    migraines, headaches, seizure, seizures, epilepsy, epileptic, convulsions,
    multiple sclerosis, parkinson, parkinsons, parkinson's, alzheimer, alzheimers,
    alzheimer's, dementia, neuropathy, concussion, hypothyroidism, hyperthyroidism,
    thyroid disease, goiter, anemia, anemic, anaemia, sickle cell, hemophilia, obesity,
    obese, overweight, sleep apnea, apnea, insomnia, narcolepsy, gerd, acid reflux, reflux,
    ulcer, ulcers, ibs, irritable bowel, crohn, crohns, crohn's, colitis, celiac,
    diverticulitis, gallstones, pancreatitis, appendicitis, hemorrhoids, constipation,
    diarrhea, uti, utis, urinary tract infection, bladder infection, kidney infection,
    yeast infection, ear infection, sinus infection, strep throat, strep infection, infected,
    infections, flu, influenza, covid, covid-19, coronavirus, rsv, whooping cough, pertussis,
    measles, mumps, rubella, chickenpox, chicken pox, shingles, tuberculosis, tb, mono,
    mononucleosis, eczema, psoriasis, dermatitis, acne, rosacea, rash, hives, cellulitis,
    impetigo, scabies, lice, warts, wart, glaucoma, cataract, cataracts,
    macular degeneration, allergy, allergies, allergic, anaphylaxis, fever, sore throat,
    cough, vomiting, nausea, dizziness, vertigo, fatigue, fracture, fractured, broken arm,
    broken leg, broken wrist, sprain, torn acl, torn meniscus, hernia, endometriosis, pcos,
    fibroids, incontinence, enlarged prostate, bph, erectile dysfunction, low testosterone,
    autism, adhd, dyslexia, developmental delay, covid positive, long covid, cardiac,
    heart murmur, wound infection, pressure ulcer, bedsore, dehydration, dehydrated,
    malnutrition, injury, injuries, sugar level, sugar levels, tetanus, hepatitis a,
    hepatitis b, polio, diphtheria, meningitis, hpv, diabetes mellitus,
    strep, diabetico, diabetica, asma, asmatico, gripe, sarampion, varicela,
    neumonia, bronquitis, hipertension, presion alta, presion baja, colesterol alto,
    azucar alta, azucar baja, infarto, ataque al corazon, derrame cerebral,
    insuficiencia cardiaca, enfermedad del corazon, enfermedad renal, calculos renales,
    artritis, dolor de espalda, dolor de pecho, dolor de rodilla, dolor de cabeza, migrana,
    convulsiones, epilepsia, demencia, anemia, obesidad, apnea del sueno, reflujo, ulcera,
    infeccion urinaria, infeccion de oido, infeccion de orina, infeccion, fiebre, tos, diarrea,
    vomito, alergia, alergias, cancer de mama, tumor, leucemia, tiroides, hipotiroidismo,
    hipertiroidismo, gota, fibromialgia, esclerosis multiple, cataratas, sarpullido, eccema,
    acne, vph, hongos, fractura, esguince, culebrilla, tuberculosis, hepatitis,
    enfermedad pulmonar, epoc, asma bronquial, covid positivo, ansiedad
  `,
  medication: `
    vitamin d, vitamin d supplement, water pill, water pills,
    insulin, metformin, lisinopril, atorvastatin, amlodipine, simvastatin, omeprazole,
    losartan, levothyroxine, albuterol, gabapentin, hydrochlorothiazide, sertraline,
    fluoxetine, escitalopram, citalopram, bupropion, trazodone, prednisone, amoxicillin,
    azithromycin, doxycycline, cephalexin, ciprofloxacin, warfarin, apixaban, rivaroxaban,
    clopidogrel, aspirin, ibuprofen, naproxen, acetaminophen, tylenol, advil, motrin, aleve,
    oxycodone, hydrocodone, morphine, fentanyl, codeine, tramadol, methadone, buprenorphine,
    suboxone, naloxone, narcan, vivitrol, naltrexone, adderall, ritalin, vyvanse, concerta,
    xanax, valium, ativan, klonopin, lorazepam, alprazolam, clonazepam, diazepam, ambien,
    zolpidem, prozac, zoloft, lexapro, wellbutrin, cymbalta, paxil, effexor, seroquel,
    abilify, risperdal, lithium, lamictal, depakote, keppra, topamax, ozempic, wegovy,
    mounjaro, zepbound, trulicity, jardiance, farxiga, januvia, victoza, glipizide, lantus,
    humalog, novolog, levemir, tresiba, basaglar, eliquis, xarelto, plavix, coumadin,
    lipitor, crestor, zocor, synthroid, humira, enbrel, keytruda, opdivo, herceptin, rituxan,
    remicade, stelara, dupixent, truvada, descovy, biktarvy, antiretroviral, antiretrovirals,
    viagra, cialis, sildenafil, tadalafil, flomax, tamsulosin, finasteride, birth control,
    the pill, plan b, iud, nexplanon, depo, depo-provera, depo shot, mirena, nuvaring,
    epipen, inhaler, nebulizer, steroid, steroids, antibiotic, antibiotics, antidepressant,
    antidepressants, antiviral, antivirals, opioid, opioids, painkiller, painkillers, chemo,
    chemotherapy, cipro, keflex, bactrim, macrobid, diflucan, valtrex, tamiflu, paxlovid,
    augmentin, zithromax, z-pack, prilosec, nexium, protonix, zantac, pepcid, methotrexate,
    folic acid, vitamin b12, b12, vitamin d3, iron supplements, potassium chloride,
    prednisolone, hydroxychloroquine, plaquenil, mg, mcg, botox, testosterone, estrogen,
    progesterone, hormone therapy, hrt, nicotine patch, chantix, semaglutide, tirzepatide,
    liraglutide, dulaglutide, empagliflozin, spironolactone, furosemide, lasix, metoprolol,
    carvedilol, propranolol, atenolol, montelukast, singulair, fluticasone, flonase, advair,
    symbicort, breo, spiriva, benzonatate, tessalon, meloxicam, cyclobenzaprine, flexeril,
    valacyclovir, acyclovir, oseltamivir, mmr, tdap, dtap, shingrix, gardasil, prevnar,
    metformina, insulina, amoxicilina, ibuprofeno, paracetamol, acetaminofen, antibiotico,
    antibioticos, pastillas anticonceptivas, anticonceptivo, anticonceptivos, inhalador,
    medicamento para la presion, medicina para la presion, medicamento para la diabetes,
    quimio
  `,
  lab: `
    a1c, hba1c, hemoglobin a1c, glucose, blood glucose, fasting glucose, cholesterol, ldl,
    hdl, triglycerides, lipid panel, lipids, potassium, sodium level, creatinine, egfr, gfr,
    bun, tsh, t4, t3, free t4, thyroid panel, inr, pt/inr, psa, hemoglobin, hematocrit,
    platelets, white count, wbc, white blood cell count, cbc, metabolic panel, cmp, bmp,
    liver enzymes, alt, ast, bilirubin, vitamin d level, iron level, ferritin, b12 level,
    urinalysis, urine culture, blood culture, urine test, pap smear, pap test, pap,
    strep test, covid test, flu test, rapid test, pcr test, hiv test, std test, sti test,
    pregnancy test, biopsy results, pathology report, culture results, blood sugar reading,
    bp reading, blood pressure reading, troponin, d-dimer, bnp, ekg results, echo results,
    mammogram results, colesterol, trigliceridos, glucosa, hemoglobina, nivel de azucar,
    azucar en la sangre, analisis de sangre, analisis de orina, examen de sangre,
    prueba de embarazo, prueba de vih, papanicolaou, blood work, bloodwork, lab work,
    labwork
  `,
  procedure: `
    colonoscopy, endoscopy, mammo, prostate exam, breast exam, pelvic exam, mammogram,
    mammography, mri, ct scan, cat scan, pet scan, x-ray,
    xray, x-rays, ultrasound, sonogram, echocardiogram, ekg, ecg, eeg, emg, stress test,
    nuclear stress test, holter monitor, biopsy, biopsies, surgery, surgeries, pre-op, preop,
    post-op, postop, anesthesia, knee replacement, hip replacement, joint replacement,
    arthroscopy, spinal fusion, cataract surgery, lasik, root canal, tooth extraction,
    wisdom teeth extraction, extractions, chemotherapy, radiation, radiation therapy,
    radiation treatment, infusion, infusions, transfusion, dialysis, physical therapy,
    occupational therapy, speech therapy, cardiac rehab, pulmonary rehab, catheterization,
    cardiac catheterization, angioplasty, stent, pacemaker, defibrillator, bypass,
    hysterectomy, vasectomy, tubal ligation, c-section, cesarean, tonsillectomy,
    appendectomy, cholecystectomy, gallbladder surgery, hernia repair, mastectomy,
    lumpectomy, prostatectomy, lumbar puncture, spinal tap, epidural, nerve block,
    steroid injection, cortisone injection, cortisone shot, injection, injections,
    allergy shots, allergy shot, stitches, sutures, wound care, wound check, dressing change,
    sleep study, bone density scan, bone density, dexa scan, dexa, blood draw, lab draw,
    fasting labs, colon cancer screening, cancer screening, lung cancer screening,
    skin check, hearing test, eye exam, diabetic eye exam, retinal exam, colonoscopy prep,
    bowel prep, ivf, egg retrieval, embryo transfer, iui, colonoscopia, endoscopia,
    mamografia, resonancia magnetica, tomografia, rayos x, ultrasonido, ecografia, cirugia,
    quimioterapia, radioterapia, dialisis, terapia fisica, terapia ocupacional, infusion,
    transfusion, biopsia, inyeccion
  `,
  specialty: `
    oncology, oncologist, hematology oncology, hem/onc, cancer center, cancer institute,
    cancer care, cancer clinic, tumor board, radiation oncology, methadone clinic,
    methadone program, suboxone clinic, opioid treatment program, otp, addiction,
    addiction services, addiction medicine, recovery center, recovery services,
    treatment center, rehab center, detox center, substance abuse, substance use services,
    hiv care, hiv clinic, hiv services, aids clinic, infectious disease, id clinic,
    std clinic, sexual health clinic, fertility, fertility clinic, fertility center,
    reproductive medicine, reproductive endocrinology, ivf center, behavioral health,
    mental health, psychiatry, psychiatric, psychiatrist, psychology, psychologist,
    counseling center, counseling services, therapist, dialysis center, dialysis unit,
    kidney center, nephrology, nephrologist, cardiology, cardiologist, heart center,
    heart institute, heart and vascular, rheumatology, rheumatologist, endocrinology,
    endocrinologist, diabetes center, diabetes clinic, infusion center, infusion clinic,
    transplant center, transplant clinic, transplant, neurology, neurologist, memory care,
    memory clinic, memory center, pulmonology, pulmonologist, gastroenterology,
    gastroenterologist, gi clinic, hepatology, wound clinic, wound center, wound care center,
    sleep center, sleep disorders center, sleep clinic, eating disorder,
    eating disorders program, planned parenthood, abortion clinic, gender clinic, hospice,
    palliative care, palliative, bariatric, bariatric surgery, weight loss clinic,
    pain management, pain clinic, urology, urologist, oncologia, hematologia, cardiologia,
    psiquiatria, salud mental, salud conductual, centro de dialisis, clinica de vih,
    centro de cancer, clinica de fertilidad, adicciones, centro de rehabilitacion
  `,
  sensitive: `
    pregnant, pregnancy, pregnancies, prenatal, postnatal, postpartum, antenatal, obstetric,
    obstetrics, miscarriage, stillbirth, abortion, anatomy scan, gestational, trimester, ivf,
    egg retrieval, embryo, fertility treatment, infertility, hiv, aids, hiv positive,
    hiv negative, truvada, std, stds, sti, stis, chlamydia, gonorrhea, syphilis, herpes, hsv,
    genital warts, trichomoniasis, hepatitis c, hcv, depression, depressed, anxiety,
    panic attacks, bipolar, schizophrenia, ptsd, ocd, psychosis, suicidal, suicide,
    self-harm, eating disorder, anorexia, bulimia, counseling, counselor, counselling,
    therapy session, therapist, psychiatrist, psychologist, mental health, substance use,
    substance abuse, addiction, addicted, alcoholism, alcohol use, opioid use, overdose,
    detox, detoxing, rehab, relapse, sober, sobriety, recovery program, aa meeting,
    na meeting, narcotics anonymous, alcoholics anonymous, genetic testing, genetic test,
    genetic counselor, genetic counseling, brca, dna test, paternity test, birth control,
    contraception, contraceptive, emergency contraception, sexual assault, domestic violence,
    transgender, gender affirming, hormone therapy, embarazo, embarazada, prenatal, aborto,
    vih, sida, its, ets, depresion, ansiedad, consejeria, consejero, terapia psicologica,
    psiquiatra, adiccion, desintoxicacion
  `,
};

/**
 * Abbreviations that are medical in one reading and a place, time zone, title or word in
 * another (MS: multiple sclerosis / Mississippi / Ms.; PT: physical therapy / Pacific time /
 * patient; CT: scan / Connecticut / Central time). They count only next to a clinical cue
 * or after a possessive ("your MS", "MS flare").
 */
export const AMBIGUOUS: Readonly<Record<string, Category>> = {
  ms: 'condition',
  ca: 'condition',
  ra: 'condition',
  mi: 'condition',
  pe: 'condition',
  dm: 'condition',
  ad: 'condition',
  cf: 'condition',
  af: 'condition',
  ed: 'condition',
  od: 'sensitive',
  aa: 'sensitive',
  na: 'sensitive',
  ob: 'sensitive',
  pt: 'procedure',
  prep: 'sensitive',
  // "your sugar was high": a lay word for blood glucose only when it is the recipient's.
  sugar: 'condition',
  azucar: 'condition',
  ot: 'procedure',
  ct: 'procedure',
  iv: 'procedure',
  bp: 'lab',
};

/** Words after an ambiguous abbreviation that make it clinical. */
export const CLINICAL_CUES = `
    scan, scans, flare, flares, infusion, infusions, treatment, treatments, therapy session,
    sessions, eval, evaluation, visit, visits, appointment, appt, meds, medication,
    medications, diagnosis, symptoms, meeting, meetings, sponsor, check, reading, readings,
    results, dose, doses, drip, clinic, exercises, relapse
  `;

/** Vaccines and screenings: held when they are the recipient's (due, scheduled, "your"). */
export const PERSONAL_ONLY = `
    flu shot, flu shots, flu vaccine, shot, shots, vaccine, vaccines, vaccination,
    vaccinations, immunization, immunizations, booster, boosters, dose, doses, second dose,
    2nd dose, jab, screening, screenings, vacuna, vacunas, inyeccion, dosis
  `;

/** Words that say the text goes to everyone, not to this recipient. */
export const BROADCAST_CUES = [
  'all patients',
  'all our patients',
  'everyone',
  'everybody',
  'all ages',
  'all students',
  'all women',
  'all men',
  'all adults',
  'all members',
  'all community members',
  'community',
  'open to all',
  'open to the public',
  'the public',
  'all are welcome',
  'awareness month',
  'walk-ins welcome',
  'para todos',
  'todos los pacientes',
  'todos los ninos',
  'toda la comunidad',
  'la comunidad',
];

/** Insurers and public plans: a named plan is held (policy: insurance specifics). */
export const INSURERS = `
    aetna, cigna, humana, kaiser, kaiser permanente, anthem, blue cross, blue shield, bcbs,
    bluecross, unitedhealthcare, united healthcare, uhc, optum, medicare, medicaid, medi-cal,
    medicare advantage, tricare, molina, centene, ambetter, wellcare, oscar health, highmark,
    emblemhealth, caresource, amerigroup, florida blue, healthnet, premera, regence,
    your coverage, coverage ends, coverage will end, deductible, coinsurance, co-insurance,
    copay, copays, co-pay, copayment, out-of-pocket, prior authorization, your claim,
    claim was, claim has, claim for, claims were, eob, explanation of benefits
  `;

/** Phrases that use medical-sounding words harmlessly; their words are never findings. */
export const SAFE_PHRASES = [
  'stay positive',
  'think positive',
  'positive attitude',
  "we're positive",
  'we are positive',
  "i'm positive",
  'positive you',
  'flu season',
  'cold and flu season',
  'results are ready',
  'results are available',
  'results are in',
  'results is ready',
  'family medicine',
  'primary care',
  'urgent care',
  'internal medicine',
  'pediatrics',
  'health center',
  'medical center',
  'medical assistant',
  'medical assistants',
  'nurse line',
  'blood drive',
  'health fair',
  'wellness walk',
  'sports physical',
  'school physical',
  'test message',
  'a test of',
  'this is a test',
  'fire drill',
  'heart health',
  'care team',
  'patient portal',
  'in good health',
  'mental note',
  'sick visits',
  'same-day sick',
  'resultados estan listos',
  'sus resultados estan listos',
  'feria de salud',
];

/** Forms of address after which a capitalised word is a name, not a condition ("Dr. Burns"). */
export const TITLES = `
    dr, dra, doctor, doctora, mr, mrs, ms, miss, mx, nurse, np, pa, prof, sr, sra, srta, don,
    dona, rn
  `;

/** Greetings after which a capitalised word is the recipient's first name ("Hi Allegra"). */
export const GREETINGS = `
    hi, hello, hey, dear, hola, estimado, estimada, querido, querida, buenos, buenas, good,
    morning, afternoon, evening, thanks, thank
  `;

/**
 * First names that are also drug brands (many oral contraceptives carry first names). A
 * brand on this list, or a name-like brand found by the derivation, is a medication only
 * next to a medication cue ("your Camila refill", "Heather 0.35 mg").
 */
export const NAME_LIKE_BRANDS = `
    allegra, camila, heather, errin, nora, nikki, hailey, charlotte, portia, aubra, lyrica,
    evista, yasmin, ella, alli, tatum, terra, nikita, brian, evans, jolivette, lyza, tarina,
    larin, junel, aviane, lutera, vienva, tilia, daysee, amethyst, kelnor, zovia, kariva,
    azurette, levora, jasmiel, loryna, gianvi, ocella, syeda, zarah, marlissa, cryselle,
    mili, tydemy, isibloom, juleber, kurvelo, layolis, kaitlib, wera, chateal, amethia,
    camrese, setlakin, jencycla, deblitane, incassia, sharobel, lyleq, tulana, philith,
    pirmella, alyacen, briellyn, zenchent, dasetta, nortrel, vyfemla, balziva
  `;

/** Cues that make a name-like brand a medication. */
export const MEDICATION_CUES = `
    refill, refills, prescription, prescriptions, rx, pharmacy, dose, doses, dosage, take,
    taking, tablet, tablets, pill, pills, capsule, capsules, mg, mcg, ml, pack, packs,
    prior authorization, receta, pastillas
  `;

/**
 * Common first names, used only when the vocabulary is derived (a drug name that is also
 * a first name needs a medication cue). Curated for Tidings; English and Spanish.
 */
export const FIRST_NAMES = `
    james, john, robert, michael, william, david, richard, joseph, thomas, charles,
    christopher, daniel, matthew, anthony, mark, donald, steven, paul, andrew, joshua,
    kenneth, kevin, brian, george, timothy, ronald, edward, jason, jeffrey, ryan, jacob,
    gary, nicholas, eric, jonathan, stephen, larry, justin, scott, brandon, benjamin, samuel,
    gregory, alexander, frank, patrick, raymond, jack, dennis, jerry, tyler, aaron, jose,
    adam, nathan, henry, douglas, zachary, peter, kyle, ethan, walter, noah, jeremy,
    christian, keith, roger, terry, gerald, harold, sean, austin, carl, arthur, lawrence,
    dylan, jesse, jordan, bryan, billy, joe, bruce, gabriel, logan, albert, willie, alan,
    juan, wayne, elijah, randy, roy, vincent, ralph, eugene, russell, bobby, mason, philip,
    louis, mary, patricia, jennifer, linda, elizabeth, barbara, susan, jessica, sarah, karen,
    lisa, nancy, betty, margaret, sandra, ashley, kimberly, emily, donna, michelle, carol,
    amanda, dorothy, melissa, deborah, stephanie, rebecca, sharon, laura, cynthia, kathleen,
    amy, angela, shirley, anna, brenda, pamela, emma, nicole, helen, samantha, katherine,
    christine, debra, rachel, carolyn, janet, catherine, maria, heather, diane, ruth, julie,
    olivia, joyce, virginia, victoria, kelly, lauren, christina, joan, evelyn, judith, megan,
    andrea, cheryl, hannah, jacqueline, martha, gloria, teresa, ann, sara, madison, frances,
    kathryn, janice, jean, abigail, alice, judy, sophia, grace, denise, amber, doris,
    marilyn, danielle, beverly, isabella, theresa, diana, natalie, brittany, charlotte,
    marie, kayla, alexis, lori, camila, sofia, valentina, lucia, isabel, carmen, rosa, ana,
    juana, guadalupe, alejandra, daniela, gabriela, fernanda, mariana, paula, adriana,
    veronica, yolanda, leticia, claudia, silvia, elena, luis, carlos, jorge, miguel, pedro,
    manuel, francisco, javier, ricardo, eduardo, fernando, roberto, alejandro, diego, sergio,
    raul, andres, rafael, mario, hector, oscar, ruben, alberto, enrique, nora, hailey, ella,
    allegra, portia, nikki, nikita, tatum, terra, evans, ariel, ariana, sierra, celeste,
    ruby, jasmine, yasmin, lyric, lyra, mia, zoe, chloe, lily, layla, aria, riley, nova
  `;
