/**
 * @module web/qr-code
 * The TOTP enrolment QR code, drawn here as SVG from the `qrcode` package's matrix: the
 * secret never leaves the browser for a third-party QR service, and no image is fetched.
 */
import { create } from 'qrcode';

export function QrCode({ text, label }: { text: string; label: string }) {
  const { modules } = create(text, { errorCorrectionLevel: 'M' });
  const size = modules.size;
  let d = '';
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      if (modules.get(y, x)) d += `M${x + 4} ${y + 4}h1v1h-1z`;
    }
  }
  const full = size + 8; // four modules of quiet zone on each side
  return (
    <svg
      className="qr"
      role="img"
      aria-label={label}
      viewBox={`0 0 ${full} ${full}`}
      shapeRendering="crispEdges"
    >
      <rect width={full} height={full} fill="#fff" />
      <path d={d} fill="#000" />
    </svg>
  );
}
